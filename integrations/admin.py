"""Admin for API keys (created here, shown once; revoked, never deleted), webhook endpoints with
their delivery logs, and clearances (read-only evidence, with what voided them)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations import delivery, keys
from integrations.destinations import DestinationRefused, check_url
from integrations.models import (
    ApiKey,
    Clearance,
    ClearanceItem,
    DeliveryAttempt,
    Scope,
    WebhookDelivery,
    WebhookEndpoint,
)
from integrations.outbox import EVENT_TYPES
from integrations.webhooks import rotate_secret
from ledger.services import Actor, record
from portal.access import StaffRequest
from portal.admin_mixins import ReadOnlyAdminMixin


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "rate_limit_per_minute"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ("name", "public_id", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("public_id", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, never deleted: the ledger names it

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, secret = keys.create_key(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            created_by=request.user,  # type: ignore[arg-type]
            rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
        )
        obj.pk = created.pk
        self.message_user(
            request,
            f"The key, shown this once (copy it now; only its hash is kept): {secret}",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: StaffRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = sum(keys.revoke_key(key=k, actor=Actor.staff(request.user)) for k in queryset)
        self.message_user(request, f"{revoked} key(s) revoked.")


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active", "paused_at"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except DestinationRefused as error:
            raise forms.ValidationError(str(error)) from error
        return url


class AttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    fields = readonly_fields = ("at", "status_code", "latency_ms", "response_excerpt", "error")
    extra = 0


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("url", "events", "is_active", "paused_at", "failure_streak")
    readonly_fields = ("failure_streak", "created_at", "previous_secret_until")
    actions = ["rotate"]

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        secret = None
        if not change:
            secret = obj.secret = WebhookEndpoint.new_secret()
        super().save_model(request, obj, form, change)
        record(
            action="webhook.endpoint_added" if not change else "webhook.endpoint_changed",
            actor=Actor.staff(request.user),
            subject=obj,
            payload={"url": obj.url, "events": obj.events, "paused": obj.paused_at is not None},
        )
        if secret:
            self.message_user(
                request, f"The signing secret, shown this once: {secret}", messages.WARNING
            )

    @admin.action(
        description="Rotate the signing secret (the old one signs for a day more)",
        permissions=["change"],
    )
    def rotate(self, request: StaffRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            secret = rotate_secret(endpoint=endpoint, actor=Actor.staff(request.user))
            self.message_user(
                request,
                f"New secret for {endpoint.url}, shown this once: {secret}",
                messages.WARNING,
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("event", "endpoint", "status", "attempts", "next_attempt_at", "completed_at")
    list_filter = ("status", "endpoint", "event__type")
    readonly_fields = ("event", "endpoint", "status", "attempts", "next_attempt_at", "completed_at")
    inlines = [AttemptInline]
    actions = ["send_again"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The "send again" action needs change rights; the fields stay read-only.
        return request.user.has_perm("integrations.change_webhookdelivery")

    @admin.action(description="Send again", permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        from integrations.tasks import deliver_webhooks
        from portal.queueing import enqueue_on_commit

        for item in queryset:
            delivery.send_again(delivery=item)
        for endpoint_id in sorted(set(queryset.values_list("endpoint_id", flat=True))):
            enqueue_on_commit(
                deliver_webhooks, endpoint_id, sweep="integrations.tasks.sweep_webhooks"
            )
        self.message_user(request, f"{queryset.count()} event(s) queued again.")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The delivery log, filterable by endpoint: every request, its answer and how long it took."""

    list_display = (
        "at",
        "endpoint",
        "event",
        "status_code",
        "latency_ms",
        "error",
        "response_excerpt",
    )
    list_filter = ("delivery__endpoint", "status_code")
    list_select_related = ("delivery__endpoint", "delivery__event")

    @admin.display(description="endpoint")
    def endpoint(self, attempt: DeliveryAttempt) -> str:
        return str(attempt.delivery.endpoint)

    @admin.display(description="event")
    def event(self, attempt: DeliveryAttempt) -> str:
        return str(attempt.delivery.event)


class ClearanceItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ClearanceItem
    fields = readonly_fields = (
        "reference",
        "asset",
        "consent",
        "allowed",
        "reason",
        "valid_until",
        "voided_at",
        "void_reason",
    )
    extra = 0


@admin.register(Clearance)
class ClearanceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("public_id", "project", "intended_use", "api_key", "created_at")
    list_filter = ("project",)
    search_fields = ("public_id", "intended_use", "items__reference")
    readonly_fields = ("public_id", "api_key", "project", "intended_use", "created_at")
    inlines = [ClearanceItemInline]


@admin.register(ClearanceItem)
class ClearanceItemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every use a clearance covered, filterable by person and by voided: what to take down."""

    list_display = ("clearance", "reference", "allowed", "reason", "voided_at", "void_reason")
    list_filter = ("allowed", ("voided_at", admin.EmptyFieldListFilter), "consent__project")
    search_fields = ("reference", "clearance__public_id", "consent__person__full_name")
    list_select_related = ("clearance",)

"""Admin for upstream accounts (secrets write-only) and the upstream call log (read-only)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from portal.admin_tools import ExportPermissionMixin, export_as_csv
from upstream.models import Adapter, UpstreamAccount, UpstreamCall
from upstream.services import check_account

SECRET_FIELDS = ("api_token", "secret_access_key")


class UpstreamAccountForm(forms.ModelForm):
    """Secrets can be typed in but are never sent back to the browser. Blank keeps the stored
    value, so editing the name or URL doesn't require pasting the credential again."""

    api_token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Anyfast: a token from the Byteplus-Direct token group.",
    )
    secret_access_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="BytePlus direct: the secret of the access key pair.",
    )

    class Meta:
        model = UpstreamAccount
        fields = [
            "name",
            "adapter",
            "base_url",
            "api_token",
            "access_key_id",
            "secret_access_key",
            "region",
            "project_name",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The instance still holds the stored secrets here; remember whether each one is set.
        self._stored = {name: getattr(self.instance, name) or "" for name in SECRET_FIELDS}
        for name in SECRET_FIELDS:
            self.initial[name] = ""
            state = (
                "A value is stored; leave blank to keep it." if self._stored[name] else "Not set."
            )
            self.fields[name].help_text = f"{self.fields[name].help_text} {state}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in SECRET_FIELDS:
            if not cleaned.get(name):
                cleaned[name] = self._stored[name]
        adapter = cleaned.get("adapter")
        if adapter == Adapter.ANYFAST and not cleaned.get("api_token"):
            self.add_error("api_token", "An Anyfast account needs an API token.")
        if adapter == Adapter.BYTEPLUS:
            if not cleaned.get("access_key_id"):
                self.add_error("access_key_id", "A BytePlus account needs an access key id.")
            if not cleaned.get("secret_access_key"):
                self.add_error("secret_access_key", "A BytePlus account needs a secret access key.")
            if not cleaned.get("region"):
                self.add_error("region", "A BytePlus account needs a region.")
        return cleaned

    @property
    def changed_data(self) -> list[str]:
        # A blank secret field means "keep": don't log it as a change.
        changed = super().changed_data
        return [
            name
            for name in changed
            if name not in SECRET_FIELDS or self.data.get(self.add_prefix(name))
        ]


@admin.register(UpstreamAccount)
class UpstreamAccountAdmin(ExportPermissionMixin, admin.ModelAdmin):
    form = UpstreamAccountForm
    list_display = ["name", "adapter", "base_url", "is_active", "created_at"]
    list_filter = ["adapter", "is_active"]
    search_fields = ["name"]
    actions = ["check_credentials", export_as_csv]
    # Never the secrets: a CSV leaves the portal.
    export_fields = [
        "id",
        "name",
        "adapter",
        "base_url",
        "access_key_id",
        "region",
        "project_name",
        "is_active",
        "created_at",
    ]

    @admin.action(description="Check credentials with a free upstream call", permissions=["change"])
    def check_credentials(self, request: HttpRequest, queryset: QuerySet[UpstreamAccount]) -> None:
        for account in queryset:
            outcome = check_account(account)
            if outcome.ok and outcome.confirmed:
                self.message_user(request, outcome.summary, messages.SUCCESS)
            elif outcome.ok:
                self.message_user(request, f"{outcome.summary} {outcome.fix}", messages.WARNING)
            else:
                text = f"{outcome.summary} — {outcome.explanation} {outcome.fix}"
                self.message_user(request, text, messages.ERROR)


@admin.register(UpstreamCall)
class UpstreamCallAdmin(ExportPermissionMixin, admin.ModelAdmin):
    """The call log: for reading only. Rows never hold credentials or media."""

    list_display = [
        "created_at",
        "account",
        "action",
        "http_status",
        "duration_ms",
        "error_code",
        "request_id",
    ]
    list_filter = ["action", "account", "error_code"]
    search_fields = ["=request_id", "error_code", "action"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    show_full_result_count = False
    actions = [export_as_csv]
    export_fields = [
        "id",
        "created_at",
        "account__name",
        "action",
        "http_status",
        "duration_ms",
        "error_code",
        "error_message",
        "request_id",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

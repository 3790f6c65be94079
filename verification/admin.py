"""Admin for persons, projects, consent texts, sessions and their evidence.

Consents, invitations and liveness attempts are evidence: read-only here, changed only by the
journey's services (withdrawal included, through the action below). Person and session pages show
their timeline from the ledger.
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.safestring import SafeString

from ledger.models import AuditEvent
from ledger.services import Actor, record
from portal.access import StaffRequest
from portal.admin_mixins import ReadOnlyAdminMixin
from portal.admin_tools import (
    ExportPermissionMixin,
    confirm_action,
    export_as_csv,
    subject_filters,
    timeline,
)
from verification import withdrawal
from verification.limits import check_can_send
from verification.models import (
    AuthorizingPerson,
    Consent,
    ConsentCode,
    ConsentText,
    Invitation,
    LivenessAttempt,
    Project,
    StaffNotice,
    VerificationSession,
)
from verification.services import JourneyError, cancel_session, send_new_link


class SessionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = VerificationSession
    fields = readonly_fields = ("created_at", "project", "account", "channel", "status")
    show_change_link = True
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[VerificationSession]:
        return super().get_queryset(request).select_related("project", "account")


class ConsentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Consent
    fk_name = "person"
    fields = readonly_fields = ("signed_at", "project", "text", "media_kinds", "withdrawn_at")
    show_change_link = True
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Consent]:
        return super().get_queryset(request).select_related("project", "text")


@admin.register(AuthorizingPerson)
class AuthorizingPersonAdmin(ExportPermissionMixin, admin.ModelAdmin):
    list_display = ["full_name", "email", "phone", "language", "created_at", "last_interaction_at"]
    list_filter = ["language"]
    # An upstream group id finds its person, as staff copy it from a session page.
    search_fields = ["full_name", "email", "phone", "=groups__upstream_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = ["created_by", "created_at", "updated_at", "last_interaction_at", "timeline"]
    inlines = [SessionInline, ConsentInline]
    actions = [export_as_csv]
    export_fields = [
        "id",
        "full_name",
        "email",
        "phone",
        "language",
        "created_at",
        "last_interaction_at",
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A person's records go through retention (`apply_retention`), which withdraws, deletes
        # upstream and records each step; a row removed here would skip all of that.
        return False

    @admin.display(description="timeline")
    def timeline(self, person: AuthorizingPerson) -> SafeString:
        return timeline(
            AuditEvent.objects.filter(person_id=person.pk), filters={"person_id": str(person.pk)}
        )

    def save_model(
        self, request: HttpRequest, obj: AuthorizingPerson, form: ModelForm, change: bool
    ) -> None:
        # Edits here are evidence like edits on the staff pages: recorded with the change.
        super().save_model(request, obj, form, change)
        record(
            action="person.updated" if change else "person.created",
            actor=Actor.staff(request.user),
            subject=obj,
            person_id=obj.pk,
            payload={"fields": sorted(form.changed_data), "via": "admin"},
        )


@admin.register(Project)
class ProjectAdmin(ExportPermissionMixin, admin.ModelAdmin):
    list_display = ["name", "is_active", "closed_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "intended_use"]
    date_hierarchy = "created_at"
    readonly_fields = ["closed_at", "created_at"]
    actions = [export_as_csv]
    export_fields = ["id", "name", "intended_use", "is_active", "closed_at", "created_at"]

    def save_model(self, request: HttpRequest, obj: Project, form: ModelForm, change: bool) -> None:
        # Closing a project starts its persons' retention clock: evidence, like consent itself.
        super().save_model(request, obj, form, change)
        if "is_active" in form.changed_data:
            record(
                action="project.reopened" if obj.is_active else "project.closed",
                actor=Actor.staff(request.user),
                subject=obj,
                payload={
                    "name": obj.name,
                    "closed_at": obj.closed_at.isoformat() if obj.closed_at else None,
                    "via": "admin",
                },
            )


@admin.register(ConsentText)
class ConsentTextAdmin(ExportPermissionMixin, admin.ModelAdmin):
    list_display = ["title", "version", "language", "sha256", "created_at"]
    list_filter = ["language"]
    search_fields = ["title", "version", "body"]
    date_hierarchy = "created_at"
    readonly_fields = ["sha256", "created_at"]
    actions = [export_as_csv]
    export_fields = ["id", "title", "version", "language", "sha256", "created_at", "body"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A text people have seen or agreed to is evidence: its words never change.
        if obj is not None and obj.is_frozen:
            return ["title", "version", "language", "body", "sha256", "created_at"]
        return list(self.readonly_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not obj.is_frozen)


class InvitationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Invitation
    fields = readonly_fields = (
        "created_at",
        "channel",
        "recipient",
        "status",
        "error",
        "sent_at",
        "opened_at",
        "revoked_at",
        "expires_at",
    )
    extra = 0


class LivenessAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LivenessAttempt
    fields = readonly_fields = (
        "created_at",
        "status",
        "result_code",
        "group_id",
        "poll_count",
        "next_poll_at",
        "last_error",
    )
    extra = 0


class SessionConsentInline(ConsentInline):
    fk_name = "session"


@admin.register(VerificationSession)
class VerificationSessionAdmin(ExportPermissionMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "person",
        "project",
        "account",
        "channel",
        "status",
        "created_at",
        "upstream_group_id",
    ]
    list_filter = ["status", "channel", "account", "project"]
    search_fields = ["person__full_name", "person__email", "=upstream_group_id"]
    date_hierarchy = "created_at"
    list_select_related = ["person", "project", "account"]
    show_full_result_count = False
    readonly_fields = [*(field.name for field in VerificationSession._meta.fields), "timeline"]
    inlines = [SessionConsentInline, InvitationInline, LivenessAttemptInline]
    actions = ["resend_invitation", "cancel", export_as_csv]
    export_fields = [
        "id",
        "person_id",
        "person__full_name",
        "project__name",
        "account__name",
        "channel",
        "status",
        "media_kinds",
        "upstream_group_id",
        "created_at",
        "opened_at",
        "consented_at",
        "completed_at",
        "last_error",
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # sessions start from a person's page, where consent texts and links are made

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a session is evidence: it is cancelled (the action below), never removed

    def has_send_link_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("verification.send_link")

    def has_cancel_session_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("verification.cancel_session")

    @admin.display(description="timeline")
    def timeline(self, session: VerificationSession) -> SafeString:
        consents = [str(pk) for pk in session.consents.values_list("pk", flat=True)]
        events = AuditEvent.objects.filter(
            Q(**subject_filters(session))
            | Q(subject_type="verification.consent", subject_id__in=consents)
        )
        return timeline(events, filters={"person_id": str(session.person_id)})

    @admin.action(
        description="Send a new link by email or SMS (the old one stops working)",
        permissions=["send_link"],
    )
    def resend_invitation(
        self, request: StaffRequest, queryset: QuerySet[VerificationSession]
    ) -> None:
        sent = 0
        for session in queryset.select_related("person"):
            if session.channel == VerificationSession.Channel.IN_PERSON:
                self.message_user(
                    request,
                    f"{session.person}: an in-person session; show its link from the session page.",
                    messages.WARNING,
                )
                continue
            try:
                check_can_send(session)
                send_new_link(session=session, user=request.user)
            except JourneyError as error:
                self.message_user(request, f"{session.person}: {error}", messages.WARNING)
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{_count(sent, 'new link')} on the way.", messages.SUCCESS)

    @admin.action(
        description="Cancel (links stop working, no more polling)", permissions=["cancel_session"]
    )
    def cancel(
        self, request: StaffRequest, queryset: QuerySet[VerificationSession]
    ) -> TemplateResponse | None:
        """Asks first, naming the sessions and asking why; cancels on the confirming POST."""
        sessions = list(queryset.select_related("person", "project"))
        open_ones = [session for session in sessions if not session.is_terminal]
        reason = confirm_action(
            self,
            request,
            action="cancel",
            title="Cancel verification sessions",
            intro="Cancel these sessions. It takes effect at once:",
            consequences=[
                "every link of each session stops working;",
                "a liveness check under way is no longer followed;",
                "the cancellation is recorded in the audit ledger under your name, with the reason.",
            ],
            items=[
                f"{s.person.full_name} — {s.project.name} ({s.get_status_display()})"
                for s in open_ones
            ],
            skipped=[
                f"{s.person.full_name} — {s.project.name} ({s.get_status_display()})"
                for s in sessions
                if s.is_terminal
            ],
            pks=[session.pk for session in sessions],
            button=f"Yes, cancel {_count(len(open_ones), 'session')}",
        )
        if isinstance(reason, TemplateResponse):
            return reason
        cancelled = 0
        for session in open_ones:
            try:
                cancel_session(session=session, actor=Actor.staff(request.user), reason=reason)
            except JourneyError as error:
                self.message_user(request, f"{session.person}: {error}", messages.WARNING)
            else:
                cancelled += 1
        if cancelled:
            self.message_user(request, f"{_count(cancelled, 'session')} cancelled.")
        return None


@admin.register(Consent)
class ConsentAdmin(ExportPermissionMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["person", "project", "text", "signed_at", "withdrawn_at", "destroyed_at"]
    list_filter = ["project", ("withdrawn_at", admin.EmptyFieldListFilter)]
    search_fields = ["person__full_name", "signature_name", "=text_sha256"]
    date_hierarchy = "signed_at"
    list_select_related = ["person", "project", "text"]
    show_full_result_count = False
    readonly_fields = ["timeline"]
    actions = ["withdraw", export_as_csv]
    export_fields = [
        "id",
        "person_id",
        "person__full_name",
        "project__name",
        "text__version",
        "text_sha256",
        "media_kinds",
        "term_ends_on",
        "signature_name",
        "signed_at",
        "ip",
        "user_agent",
        "withdrawn_at",
        "destroyed_at",
    ]

    @admin.display(description="timeline")
    def timeline(self, consent: Consent) -> SafeString:
        return timeline(
            AuditEvent.objects.filter(**subject_filters(consent)),
            filters=subject_filters(consent),
        )

    def has_withdraw_consent_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("verification.withdraw_consent")

    @admin.action(
        description="Withdraw on the person's behalf (deletes what it covered)",
        permissions=["withdraw_consent"],
    )
    def withdraw(
        self, request: StaffRequest, queryset: QuerySet[Consent]
    ) -> TemplateResponse | None:
        """Asks first, on a page listing what will be withdrawn and asking why; acts on the
        confirming POST."""
        consents = list(queryset.select_related("person", "project"))
        active = [consent for consent in consents if consent.withdrawn_at is None]
        reason = confirm_action(
            self,
            request,
            action="withdraw",
            title="Withdraw consent on the person's behalf",
            intro="Withdraw these consents on the person's behalf — for example because they "
            "asked by phone, by letter or in person. Withdrawal takes effect at once and cannot "
            "be undone:",
            consequences=[
                "nothing more is sent to the upstream under these consents, and uploads waiting "
                "to go are refused;",
                "every asset a consent covered is deleted at the upstream and here, and the "
                "person's asset group too when no other consent holds it;",
                "the withdrawal is recorded in the audit ledger under your name with the reason, "
                "and the person is told by email when everything is deleted.",
            ],
            items=[
                f"{c.person.full_name} — {c.project.name}, signed {c.signed_at:%Y-%m-%d %H:%M}"
                for c in active
            ],
            skipped=[
                f"{c.person.full_name} — {c.project.name}, already withdrawn "
                f"{c.withdrawn_at:%Y-%m-%d %H:%M}"
                for c in consents
                if c.withdrawn_at is not None
            ],
            pks=[consent.pk for consent in consents],
            button=f"Yes, withdraw {_count(len(active), 'consent')}",
        )
        if isinstance(reason, TemplateResponse):
            return reason
        withdrawn = 0
        for consent in consents:
            if withdrawal.withdraw_consent(
                consent=consent, actor=Actor.staff(request.user), reason=reason, request=request
            ):
                withdrawn += 1
        skipped = len(consents) - withdrawn
        text = f"{_count(withdrawn, 'consent')} withdrawn; what they covered is being deleted."
        if skipped:
            text += f" {_count(skipped, 'consent')} had already been withdrawn."
        self.message_user(request, text, messages.SUCCESS if withdrawn else messages.INFO)
        return None


@admin.register(Invitation)
class InvitationAdmin(ExportPermissionMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "session_id",
        "person",
        "channel",
        "status",
        "sent_at",
        "opened_at",
        "revoked_at",
        "expires_at",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["session__person__full_name", "=recipient"]
    date_hierarchy = "created_at"
    list_select_related = ["session__person"]
    show_full_result_count = False
    exclude = ["token_hash"]
    actions = [export_as_csv]
    export_fields = [
        "id",
        "session_id",
        "channel",
        "recipient",
        "status",
        "error",
        "created_at",
        "sent_at",
        "opened_at",
        "revoked_at",
        "expires_at",
    ]

    @admin.display(description="person", ordering="session__person__full_name")
    def person(self, invitation: Invitation) -> str:
        return invitation.session.person.full_name


@admin.register(LivenessAttempt)
class LivenessAttemptAdmin(ExportPermissionMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "session_id",
        "person",
        "status",
        "result_code",
        "group_id",
        "poll_count",
        "completed_at",
    ]
    list_filter = ["status", "result_code"]
    search_fields = ["=group_id", "session__person__full_name"]
    date_hierarchy = "created_at"
    list_select_related = ["session__person"]
    show_full_result_count = False
    # The upstream token (encrypted), its hash, the lease and the callback ref stay out of sight.
    exclude = ["byted_token", "byted_token_hash", "lease_token", "ref"]
    actions = [export_as_csv]
    export_fields = [
        "id",
        "session_id",
        "status",
        "result_code",
        "group_id",
        "created_at",
        "h5_expires_at",
        "expires_at",
        "poll_count",
        "last_polled_at",
        "last_error",
        "completed_at",
    ]

    @admin.display(description="person", ordering="session__person__full_name")
    def person(self, attempt: LivenessAttempt) -> str:
        return attempt.session.person.full_name


@admin.register(StaffNotice)
class StaffNoticeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "text", "seen_at"]
    list_filter = [("seen_at", admin.EmptyFieldListFilter)]
    search_fields = ["text", "user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    readonly_fields = ["user", "session", "text", "created_at", "seen_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ConsentCode)
class ConsentCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Whether a one-time code went out, and how it was used. Never the code or its hash: the
    code proves the person, not staff, agreed."""

    list_display = ["session", "channel", "sent_at", "sends", "failed_attempts", "used_at"]
    list_select_related = ["session__person"]
    exclude = ["code_hash"]


def _count(n: int, noun: str) -> str:
    return f"1 {noun}" if n == 1 else f"{n} {noun}s"

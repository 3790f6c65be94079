from django.contrib import admin

from portal.admin_mixins import ReadOnlyAdminMixin
from verification.models import (
    AuthorizingPerson,
    Consent,
    ConsentText,
    Invitation,
    LivenessAttempt,
    Project,
    VerificationSession,
)


@admin.register(AuthorizingPerson)
class AuthorizingPersonAdmin(admin.ModelAdmin):
    list_display = ["full_name", "email", "phone", "language", "created_at", "last_interaction_at"]
    list_filter = ["language"]
    search_fields = ["full_name", "email", "phone"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_by", "created_at", "updated_at", "last_interaction_at"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "intended_use"]


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    list_display = ["title", "version", "language", "sha256", "created_at"]
    list_filter = ["language"]
    search_fields = ["title", "version", "body"]
    readonly_fields = ["sha256", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # A text people have seen or agreed to is evidence: its words never change.
        if obj is not None and obj.is_frozen:
            return ["title", "version", "language", "body", "sha256", "created_at"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.is_frozen


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


@admin.register(VerificationSession)
class VerificationSessionAdmin(admin.ModelAdmin):
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
    search_fields = ["person__full_name", "person__email", "upstream_group_id"]
    date_hierarchy = "created_at"
    list_select_related = ["person", "project", "account"]
    readonly_fields = [field.name for field in VerificationSession._meta.fields]
    inlines = [InvitationInline, LivenessAttemptInline]

    def has_add_permission(self, request, obj=None):
        return False  # sessions start from a person's page, where consent texts and links are made


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["person", "project", "text", "signed_at", "withdrawn_at"]
    list_filter = ["project", ("withdrawn_at", admin.EmptyFieldListFilter)]
    search_fields = ["person__full_name", "signature_name", "text_sha256"]
    date_hierarchy = "signed_at"
    list_select_related = ["person", "project", "text"]

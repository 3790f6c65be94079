"""Admin for asset groups and assets: both arrive through verification and upload, never here."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.safestring import SafeString

from assets.models import Asset, AssetGroup
from assets.services import delete_asset, refresh_status
from ledger.models import AuditEvent
from ledger.services import Actor
from portal.access import StaffRequest
from portal.admin_mixins import ReadOnlyAdminMixin
from portal.admin_tools import (
    ExportPermissionMixin,
    confirm_action,
    export_as_csv,
    subject_filters,
    timeline,
)
from upstream.errors import UpstreamError


class AssetInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Asset
    fields = readonly_fields = (
        "created_at",
        "original_name",
        "kind",
        "status",
        "upstream_id",
        "error_code",
    )
    show_change_link = True
    extra = 0


@admin.register(AssetGroup)
class AssetGroupAdmin(ExportPermissionMixin, admin.ModelAdmin):
    list_display = ["upstream_id", "person", "account", "group_type", "created_at", "deleted_at"]
    list_filter = ["account", "group_type", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["=upstream_id", "person__full_name"]
    date_hierarchy = "created_at"
    list_select_related = ["person", "account"]
    show_full_result_count = False
    readonly_fields = [
        "upstream_id",
        "person",
        "account",
        "session",
        "group_type",
        "created_at",
        "deleted_at",
        "timeline",
    ]
    inlines = [AssetInline]
    actions = [export_as_csv]
    export_fields = [
        "id",
        "upstream_id",
        "person_id",
        "person__full_name",
        "account__name",
        "session_id",
        "group_type",
        "created_at",
        "deleted_at",
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # groups come from verification only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Removing the row would leave the group and its assets live upstream, with nothing in
        # the ledger: a group goes with the withdrawal or retention of what it holds.
        return False

    @admin.display(description="timeline")
    def timeline(self, group: AssetGroup) -> SafeString:
        return timeline(
            AuditEvent.objects.filter(**subject_filters(group)), filters=subject_filters(group)
        )


@admin.register(Asset)
class AssetAdmin(ExportPermissionMixin, admin.ModelAdmin):
    list_display = [
        "original_name",
        "kind",
        "status",
        "person",
        "group",
        "upstream_id",
        "error_code",
        "created_at",
    ]
    list_filter = ["status", "kind", "uploaded_by_person"]
    search_fields = [
        "original_name",
        "=upstream_id",
        "=upstream_name",
        "=sha256",
        "=forwarded_sha256",
        "=group__upstream_id",
    ]
    date_hierarchy = "created_at"

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        # Staff copy an asset's id as "asset://…" (how the video tool takes it): search by it.
        return super().get_search_results(
            request, queryset, search_term.strip().removeprefix("asset://")
        )

    list_select_related = ["group__person"]
    show_full_result_count = False
    readonly_fields = [*(field.name for field in Asset._meta.fields), "timeline"]
    actions = ["delete_upstream", "recheck_upstream", export_as_csv]
    export_fields = [
        "id",
        "group__upstream_id",
        "group__person_id",
        "kind",
        "status",
        "original_name",
        "size_bytes",
        "sha256",
        "forwarded_sha256",
        "content_type",
        "upstream_id",
        "upstream_status",
        "error_code",
        "error_message",
        "consent_id",
        "uploaded_by_person",
        "created_at",
        "forwarded_at",
        "completed_at",
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # assets arrive through the upload page, which checks them

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Django's delete would remove the row and leave the asset live upstream, unrecorded:
        # deletion is the action below, through the one deletion path.
        return False

    def has_delete_upstream_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("assets.delete_asset_upstream")

    def has_recheck_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("assets.upload_asset")

    @admin.display(description="person", ordering="group__person__full_name")
    def person(self, asset: Asset) -> str:
        return asset.group.person.full_name

    @admin.display(description="timeline")
    def timeline(self, asset: Asset) -> SafeString:
        return timeline(
            AuditEvent.objects.filter(**subject_filters(asset)), filters=subject_filters(asset)
        )

    @admin.action(
        description="Delete upstream and here (asks first)", permissions=["delete_upstream"]
    )
    def delete_upstream(
        self, request: StaffRequest, queryset: QuerySet[Asset]
    ) -> TemplateResponse | None:
        """The staff page's deletion, for the selected assets: upstream first, then the copy here,
        each recorded in the ledger with who and why."""
        assets = list(queryset.select_related("group__account", "group__person"))
        live = [asset for asset in assets if asset.status != Asset.Status.DELETED]
        reason = confirm_action(
            self,
            request,
            action="delete_upstream",
            title="Delete assets upstream and here",
            intro="Delete these assets. It cannot be undone:",
            consequences=[
                "each is deleted at the upstream first, then its stored copy here;",
                "the row stays, with its SHA-256, marked deleted;",
                "each deletion is recorded in the audit ledger under your name, with the reason.",
            ],
            items=[f"{a.original_name} ({a.group.person.full_name}, {a.kind})" for a in live],
            skipped=[f"{a.original_name}: already deleted" for a in assets if a not in live],
            pks=[asset.pk for asset in assets],
            button=f"Yes, delete {len(live)} asset{'s' if len(live) != 1 else ''}",
        )
        if isinstance(reason, TemplateResponse):
            return reason
        deleted = 0
        for asset in live:
            try:
                delete_asset(asset=asset, actor=Actor.staff(request.user), reason=reason)
            except UpstreamError as error:
                self.message_user(
                    request,
                    f"{asset.original_name}: the upstream did not delete it: {error.explanation}",
                    messages.ERROR,
                )
            else:
                deleted += 1
        if deleted:
            self.message_user(
                request,
                f"{deleted} asset{'s' if deleted != 1 else ''} deleted upstream and here.",
                messages.SUCCESS,
            )
        return None

    @admin.action(description="Re-check status at the upstream now", permissions=["recheck"])
    def recheck_upstream(self, request: HttpRequest, queryset: QuerySet[Asset]) -> None:
        """Asks the upstream about each selected asset still processing there; the others have a
        final status already (`manage.py reconcile_upstream` compares everything)."""
        outcomes: dict[str, int] = {}
        skipped = 0
        for asset in queryset.select_related("group__account"):
            if asset.status != Asset.Status.PROCESSING:
                skipped += 1
                continue
            checked = refresh_status(asset=asset)
            label = checked.get_status_display().lower()
            outcomes[label] = outcomes.get(label, 0) + 1
        if outcomes:
            summary = ", ".join(f"{n} {label}" for label, n in sorted(outcomes.items()))
            self.message_user(request, f"Checked at the upstream: {summary}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected asset{'s' if skipped != 1 else ''} not processing upstream "
                "left as they are; to compare finished assets with the upstream, run "
                "`manage.py reconcile_upstream`.",
                messages.INFO,
            )

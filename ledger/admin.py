"""Read-only admin for the ledger: browse, filter, search; never add, change or delete."""

import json

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ledger.chain import HASHED_FIELDS
from ledger.models import AuditEvent, LedgerCheckpoint, LedgerHead
from portal.admin_tools import ExportPermissionMixin, export_as_csv


class LedgerPaginator(Paginator):
    """Counts the unfiltered event list from the head row: the chain is contiguous, so the
    head's seq is the number of events, without a COUNT over millions of rows."""

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet) and not self.object_list.query.where:
            head = LedgerHead.objects.filter(pk=1).values_list("seq", flat=True).first()
            return head or 0
        return super().count


class ReadOnlyAdmin(ExportPermissionMixin, admin.ModelAdmin):
    # One COUNT per page instead of two: the ledger grows without bound.
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "occurred_at", "action", "actor", "subject", "person_id"]
    list_filter = ["action", "actor_kind"]
    paginator = LedgerPaginator
    # Exact, case-sensitive matches on indexed ids (see `get_search_results`).
    search_fields = ["subject_id", "person_id", "actor_id"]
    search_help_text = "An exact subject id, person id or actor id."
    date_hierarchy = "occurred_at"
    # Without change permission every field shows read-only; the payload shows as indented JSON.
    fields = [
        "seq",
        "occurred_at",
        "action",
        ("actor_kind", "actor_id", "actor_label"),
        ("subject_type", "subject_id"),
        "person_id",
        "payload_pretty",
        "ip",
        "user_agent",
        "prev_hash",
        "hash",
    ]
    readonly_fields = ["payload_pretty"]
    # Every hashed column and the hash: an auditor can recompute the chain from the file.
    actions = [export_as_csv]
    export_fields = [*HASHED_FIELDS, "hash"]  # every column of an event

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent], search_term: str
    ) -> tuple[QuerySet[AuditEvent], bool]:
        # Not the admin's default icontains (or "=" iexact): both defeat the indexes and scan
        # every event ever recorded.
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(subject_id=term) | Q(actor_id=term)
        if term.isdigit():
            match |= Q(person_id=int(term))
        return queryset.filter(match), False

    @admin.display(description="actor")
    def actor(self, event: AuditEvent) -> str:
        return event.actor_display

    @admin.display(description="subject")
    def subject(self, event: AuditEvent) -> str:
        return event.subject_display

    @admin.display(description="payload")
    def payload_pretty(self, event: AuditEvent) -> SafeString:
        text = json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)


@admin.register(LedgerCheckpoint)
class LedgerCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["seq", "created_at", "head_hash", "key_fingerprint"]
    date_hierarchy = "created_at"
    actions = [export_as_csv]
    export_fields = ["seq", "created_at", "head_hash", "signature", "key_fingerprint"]


@admin.register(LedgerHead)
class LedgerHeadAdmin(ReadOnlyAdmin):
    """The one row naming the chain's last event (what `verify_audit` checks it against)."""

    list_display = ["seq", "hash"]

"""Shared admin pieces: CSV export of selected rows, and a record's timeline from the ledger."""

import csv
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from ledger.models import AuditEvent
from ledger.services import Actor, record
from portal.confirm import ReasonForm

logger = logging.getLogger(__name__)

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TIMELINE_LIMIT = 100


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if timezone.is_aware(value) else value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_rows(queryset: QuerySet[Any], fields: Sequence[str]) -> Iterator[str]:
    """The header and one CSV line per row, read in chunks: an export of every row of a large
    table never sits in memory at once."""
    writer = csv.writer(_Echo())
    yield writer.writerow(fields)
    for row in queryset.values_list(*fields).iterator(chunk_size=2000):
        yield writer.writerow([_cell(value) for value in row])


@admin.action(description="Export selected rows as CSV", permissions=["export"])
def export_as_csv(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> StreamingHttpResponse:
    """The columns are the admin's `export_fields` (secrets are never among them). The export is
    recorded in the ledger: who took which rows out, and how many. Offered to roles holding
    `ledger.export_records` (the admin needs `ExportPermissionMixin`)."""
    model = queryset.model
    fields: Sequence[str] = modeladmin.export_fields  # type: ignore[attr-defined]
    count = queryset.count()
    record(
        action="admin.exported",
        actor=Actor.staff(request.user),
        payload={"model": model._meta.label_lower, "rows": count, "columns": list(fields)},
    )
    logger.info(
        "admin export of %d %s rows by user %s", count, model._meta.label_lower, request.user.pk
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        csv_rows(queryset.order_by("pk"), fields), content_type="text/csv; charset=utf-8"
    )
    filename = f"{model._meta.model_name}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def timeline(events: QuerySet[AuditEvent], *, filters: dict[str, str]) -> SafeString:
    """The latest events (oldest first), each linked to its ledger entry, and a link to all of
    them in the ledger's list (filtered by `filters`)."""
    latest = list(events.order_by("-seq")[: TIMELINE_LIMIT + 1])
    more = len(latest) > TIMELINE_LIMIT
    shown = list(reversed(latest[:TIMELINE_LIMIT]))
    if not shown:
        return format_html('<p class="help">{}</p>', "Nothing recorded in the ledger yet.")
    rows = format_html_join(
        "\n",
        '<tr><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (
            (
                reverse("admin:ledger_auditevent_change", args=[event.seq]),
                event.seq,
                timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
                event.action,
                event.actor_display,
                _summary(event.payload),
            )
            for event in shown
        ),
    )
    everything = reverse("admin:ledger_auditevent_changelist") + "?" + urlencode(filters)
    note = f"the latest {TIMELINE_LIMIT}; " if more else ""
    return format_html(
        '<table class="timeline"><thead><tr><th>#</th><th>When</th><th>What</th><th>Who</th>'
        "<th>Details</th></tr></thead><tbody>{}</tbody></table>"
        '<p class="help">Showing {}<a href="{}">every event in the ledger</a>.</p>',
        rows,
        note,
        everything,
    )


def _summary(payload: object, limit: int = 160) -> str:
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True) if payload else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def subject_filters(obj: models.Model) -> dict[str, str]:
    return {"subject_type": obj._meta.label_lower, "subject_id": str(obj.pk)}


class ExportPermissionMixin:
    """Offers `export_as_csv` only to roles that may take records out (`ledger.export_records`)."""

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.export_records")


def confirm_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    action: str,
    title: str,
    intro: str,
    consequences: list[str],
    items: list[str],
    skipped: list[str],
    pks: list[int],
    button: str,
) -> TemplateResponse | str:
    """A destructive admin action's confirmation step: a page naming what will happen to what,
    asking why. Returns the reason once the confirming POST carries one, else the page."""
    form = ReasonForm(request.POST if request.POST.get("confirmed") == "yes" else None)
    if form.is_valid():
        return str(form.cleaned_data["reason"])
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "consequences": consequences,
        "items": items,
        "skipped": skipped,
        "pks": pks,
        "button": button,
        "form": form,
        "opts": modeladmin.model._meta,
        "action": action,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "index": request.POST.get("index", "0"),
    }
    return TemplateResponse(request, "admin/confirm_action.html", context)

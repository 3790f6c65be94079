"""Usage clearance: may these assets be used, for this project, now? Answered, stored, recorded.

The answer costs a fixed number of queries whatever the number of assets: one for the assets
with their consents, one for the clearance, one for its items, and the ledger append.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from assets.models import Asset
from integrations.models import ApiKey, Clearance, ClearanceItem
from ledger.services import Actor, record
from verification.models import Project

Reason = ClearanceItem.Reason
ASSET_URI = "asset://"
ASSET_ID = "ast_"
MAX_ASSETS = 200


class ClearanceRequestError(ValueError):
    """The request names too many or no assets; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Held:
    """What a clearance needs to know of one asset and its consent (one row of one query)."""

    asset_id: int
    upstream_id: str
    status: str
    kind: str
    consent_id: int | None
    withdrawn_at: datetime | None
    term_ends_on: date | None
    project_id: int | None
    media_kinds: list[str] | None


HELD = (
    "pk",
    "upstream_id",
    "status",
    "kind",
    "consent_id",
    "consent__withdrawn_at",
    "consent__term_ends_on",
    "consent__project_id",
    "consent__media_kinds",
)


@dataclass(slots=True)
class Answer:
    """One asset's answer; the same attributes as a stored `ClearanceItem`."""

    reference: str
    asset_id: int | None
    consent_id: int | None
    allowed: bool
    reason: str
    valid_until: datetime | None
    voided_at: datetime | None = None
    void_reason: str = ""


def clear_usage(
    *,
    key: ApiKey,
    actor: Actor,
    project: Project,
    references: list[str],
    intended_use: str = "",
) -> tuple[Clearance, list[Answer]]:
    """Answer for each asset whether it may be used for `project` now, and keep the answer."""
    if not references:
        raise ClearanceRequestError("Name at least one asset.")
    if len(references) > MAX_ASSETS:
        raise ClearanceRequestError(f"Name at most {MAX_ASSETS} assets in one clearance.")
    now = timezone.now()
    answers = [_answer(ref[:200], held, project, now) for ref, held in _resolve(references)]
    allowed = all(a.allowed for a in answers)
    clearance = Clearance(
        public_id=Clearance.new_public_id(),
        api_key=key,
        project=project,
        intended_use=intended_use,
        created_at=now,
    )
    refused: dict[str, list[int]] = {}
    for a in answers:
        if not a.allowed and a.asset_id is not None:
            refused.setdefault(a.reason, []).append(a.asset_id)
    with transaction.atomic():
        clearance.save()
        _insert_items(clearance, answers)
        record(
            action="usage.cleared" if allowed else "usage.refused",
            actor=actor,
            subject=clearance,
            payload={
                "clearance": clearance.public_id,
                "project": project.name,
                "intended_use": intended_use[:2000],
                "allowed": [a.asset_id for a in answers if a.allowed],
                "refused": refused,
                "unknown": sum(1 for a in answers if a.asset_id is None),
                "consents": sorted({a.consent_id for a in answers if a.consent_id}),
            },
        )
    return clearance, answers


def _insert_items(clearance: Clearance, answers: list[Answer]) -> None:
    """One multi-row statement, without building a model instance per row: this runs in front of
    every render, and the ORM's per-object work was most of a 50-asset clearance's time."""
    table = connection.ops.quote_name(ClearanceItem._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (
            clearance.pk,
            a.reference,
            a.asset_id,
            a.consent_id,
            a.allowed,
            a.reason,
            adapt(a.valid_until),
            "",
        )
        for a in answers
    ]
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (clearance_id, reference, asset_id, consent_id, allowed, reason, "  # noqa: S608 (a quoted table name and placeholders)
            f"valid_until, void_reason) VALUES {placeholders}",
            [value for row in rows for value in row],
        )


def _resolve(references: list[str]) -> list[tuple[str, Held | None]]:
    upstream_ids = {r[len(ASSET_URI) :] for r in references if r.startswith(ASSET_URI)}
    upstream_ids.discard("")
    pks = {pk for r in references if (pk := _asset_pk(r)) is not None}
    found = (
        [
            Held(*row)
            for row in Asset.objects.filter(Q(pk__in=pks) | Q(upstream_id__in=upstream_ids))
            .order_by()
            .values_list(*HELD)
        ]
        if pks or upstream_ids
        else []
    )
    by_pk = {h.asset_id: h for h in found}
    by_uri = {h.upstream_id: h for h in found if h.upstream_id}
    out: list[tuple[str, Held | None]] = []
    for reference in references:
        if reference.startswith(ASSET_URI):
            out.append((reference, by_uri.get(reference[len(ASSET_URI) :])))
        else:
            pk = _asset_pk(reference)
            out.append((reference, by_pk.get(pk) if pk is not None else None))
    return out


def _asset_pk(reference: str) -> int | None:
    digits = reference[len(ASSET_ID) :] if reference.startswith(ASSET_ID) else ""
    return int(digits) if digits.isdigit() and len(digits) < 19 else None


def consent_end(term_ends_on: date | None) -> datetime | None:
    """The last moment a consent holds: the end of its last day (UTC), or None until withdrawn."""
    if term_ends_on is None:
        return None
    return datetime.combine(term_ends_on + timedelta(days=1), time.min, tzinfo=UTC)


def _answer(reference: str, held: Held | None, project: Project, now: datetime) -> Answer:
    def answer(reason: str, allowed: bool = False) -> Answer:
        return Answer(
            reference=reference,
            asset_id=held.asset_id if held else None,
            consent_id=held.consent_id if held else None,
            allowed=allowed,
            reason=reason,
            valid_until=consent_end(held.term_ends_on) if allowed and held else None,
        )

    if held is None:
        return answer(Reason.UNKNOWN)
    if held.consent_id is None:
        return answer(Reason.ASSET_NOT_ACTIVE)
    if held.withdrawn_at is not None:
        return answer(Reason.WITHDRAWN)
    if held.term_ends_on is not None and held.term_ends_on < now.date():
        return answer(Reason.EXPIRED)
    if held.status != Asset.Status.ACTIVE:
        return answer(Reason.ASSET_NOT_ACTIVE)
    if held.project_id != project.pk:
        return answer(Reason.OTHER_PROJECT)
    if held.kind not in (held.media_kinds or []):
        return answer(Reason.KIND_NOT_COVERED)
    return answer(Reason.CLEARED, allowed=True)


def void_for_consent(*, consent_id: int, reason: str, now: datetime | None = None) -> list[str]:
    """Mark the allowed, unvoided clearance items under a consent void; the clearance ids."""
    return _void(Q(consent_id=consent_id), reason, now)


def void_for_asset(*, asset_id: int, reason: str, now: datetime | None = None) -> list[str]:
    return _void(Q(asset_id=asset_id), reason, now)


def _void(where: Q, reason: str, now: datetime | None) -> list[str]:
    items = ClearanceItem.objects.filter(where, allowed=True, voided_at__isnull=True)
    ids = sorted(set(items.values_list("clearance__public_id", flat=True)))
    items.update(voided_at=now or timezone.now(), void_reason=reason)
    return ids

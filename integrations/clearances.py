"""Usage clearance: may these assets be used, for this project, now? Answered, stored, recorded.

The answer costs a fixed number of queries whatever the number of assets: one for the assets
with their consents, one for the clearance, one for its items, and the ledger append.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from assets.models import Asset
from integrations.models import ApiKey, Clearance, ClearanceItem
from ledger.services import Actor, record
from verification.models import Consent, Project

Reason = ClearanceItem.Reason
ASSET_URI = "asset://"
ASSET_ID = "ast_"
MAX_ASSETS = 200


class ClearanceRequestError(ValueError):
    """The request names too many or no assets; the message says what to change."""


@dataclass(frozen=True)
class Resolved:
    asset: Asset | None
    reference: str


def clear_usage(
    *,
    key: ApiKey,
    actor: Actor,
    project: Project,
    references: list[str],
    intended_use: str = "",
) -> Clearance:
    """Answer for each asset whether it may be used for `project` now, and keep the answer."""
    if not references:
        raise ClearanceRequestError("Name at least one asset.")
    if len(references) > MAX_ASSETS:
        raise ClearanceRequestError(f"Name at most {MAX_ASSETS} assets in one clearance.")
    now = timezone.now()
    resolved = _resolve(references)
    clearance = Clearance(
        public_id=Clearance.new_public_id(),
        api_key=key,
        project=project,
        intended_use=intended_use,
        created_at=now,
    )
    items = [_answer(clearance, r, project, now) for r in resolved]
    allowed = all(item.allowed for item in items)
    with transaction.atomic():
        clearance.save()
        ClearanceItem.objects.bulk_create(items)
        record(
            action="usage.cleared" if allowed else "usage.refused",
            actor=actor,
            subject=clearance,
            payload={
                "clearance": clearance.public_id,
                "project": project.name,
                "intended_use": intended_use,
                "assets": [
                    {
                        "reference": item.reference,
                        "asset": item.asset_id,
                        "allowed": item.allowed,
                        "reason": item.reason,
                        "consent": item.consent_id,
                    }
                    for item in items
                ],
            },
        )
    clearance.answered = items  # type: ignore[attr-defined]
    return clearance


def _resolve(references: list[str]) -> list[Resolved]:
    upstream_ids = {r[len(ASSET_URI) :] for r in references if r.startswith(ASSET_URI)}
    pks = {
        int(r[len(ASSET_ID) :])
        for r in references
        if r.startswith(ASSET_ID) and r[len(ASSET_ID) :].isdigit() and len(r) < 24
    }
    upstream_ids.discard("")
    found = (
        list(
            Asset.objects.filter(Q(pk__in=pks) | Q(upstream_id__in=upstream_ids))
            .select_related("consent")
            .order_by()
        )
        if pks or upstream_ids
        else []
    )
    by_pk = {a.pk: a for a in found}
    by_uri = {a.upstream_id: a for a in found if a.upstream_id}
    out = []
    for reference in references:
        asset = None
        if reference.startswith(ASSET_URI):
            asset = by_uri.get(reference[len(ASSET_URI) :])
        elif reference.startswith(ASSET_ID) and reference[len(ASSET_ID) :].isdigit():
            asset = by_pk.get(int(reference[len(ASSET_ID) :]))
        out.append(Resolved(asset, reference[:200]))
    return out


def consent_end(consent: Consent) -> datetime | None:
    """The last moment a consent holds: the end of its last day (UTC), or None until withdrawn."""
    if consent.term_ends_on is None:
        return None
    return datetime.combine(consent.term_ends_on + timedelta(days=1), time.min, tzinfo=UTC)


def _answer(
    clearance: Clearance, resolved: Resolved, project: Project, now: datetime
) -> ClearanceItem:
    asset = resolved.asset
    consent = asset.consent if asset else None

    def item(reason: str, allowed: bool = False) -> ClearanceItem:
        return ClearanceItem(
            clearance=clearance,
            reference=resolved.reference,
            asset=asset,
            consent=consent,
            allowed=allowed,
            reason=reason,
            valid_until=consent_end(consent) if allowed and consent else None,
        )

    if asset is None:
        return item(Reason.UNKNOWN)
    if consent is None:
        return item(Reason.ASSET_NOT_ACTIVE)
    if consent.withdrawn_at is not None:
        return item(Reason.WITHDRAWN)
    if not consent.is_active(now):
        return item(Reason.EXPIRED)
    if asset.status != Asset.Status.ACTIVE:
        return item(Reason.ASSET_NOT_ACTIVE)
    if consent.project_id != project.pk:
        return item(Reason.OTHER_PROJECT)
    if asset.kind not in consent.media_kinds:
        return item(Reason.KIND_NOT_COVERED)
    return item(Reason.CLEARED, allowed=True)


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


def uses_of_person(person_id: int) -> list[ClearanceItem]:
    """Every allowed clearance of a person's assets, newest first: which renders used them."""
    return list(
        ClearanceItem.objects.filter(allowed=True, consent__person_id=person_id)
        .select_related("clearance__project", "asset")
        .order_by("-clearance__created_at", "-pk")[:500]
    )

"""Webhook events made from ledger events, in ledger order, after they commit.

Every effect Sitter has is a ledger event written in the same transaction as the effect, and the
ledger's sequence is gap-free and taken under a lock held until commit (`ledger.services.record`),
so reading past a cursor sees effects in the order they happened and misses none. The sweep turns
the events receivers care about into `WebhookEvent` rows, voids the clearances a withdrawal,
expiry or deletion ends, and queues one delivery per subscribed endpoint, all in one transaction
with the cursor: a crash replays a batch whole or not at all.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from assets.models import Asset
from integrations import clearances
from integrations.ids import public
from integrations.models import (
    ExternalReference,
    OutboxCursor,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from ledger.models import AuditEvent
from verification.models import Consent, VerificationSession

# Small batches: on SQLite the sweep's transaction holds the database's one write lock.
BATCH = 100


@dataclass(frozen=True)
class Mapping:
    type: str
    data: Callable[[AuditEvent], dict[str, object] | None]


def _reference(person_id: int | None) -> str | None:
    if person_id is None:
        return None
    return (
        ExternalReference.objects.filter(person_id=person_id)
        .values_list("value", flat=True)
        .first()
    )


def _person(event: AuditEvent) -> dict[str, object]:
    return {
        "person": public("person", event.person_id),
        "external_reference": _reference(event.person_id),
    }


def _session(event: AuditEvent) -> dict[str, object] | None:
    session = (
        VerificationSession.objects.filter(pk=int(event.subject_id))
        .select_related("project")
        .first()
    )
    if session is None:
        return None
    return {
        "session": public("session", session.pk),
        **_person(event),
        "project": session.project.name,
        "status": session.status,
    }


def _consent(event: AuditEvent, *, void: str = "") -> dict[str, object] | None:
    consent = Consent.objects.filter(pk=int(event.subject_id)).select_related("project").first()
    if consent is None:
        return None
    data: dict[str, object] = {
        "consent": public("consent", consent.pk),
        **_person(event),
        "project": consent.project.name,
        "media_kinds": consent.media_kinds,
        "term_ends_on": consent.term_ends_on.isoformat() if consent.term_ends_on else None,
    }
    if void:
        data["clearances_voided"] = clearances.void_for_consent(consent_id=consent.pk, reason=void)
    return data


def _asset(event: AuditEvent, *, void: str = "") -> dict[str, object] | None:
    asset = Asset.objects.filter(pk=int(event.subject_id)).first()
    if asset is None:
        return None
    data: dict[str, object] = {
        "asset": public("asset", asset.pk),
        "asset_uri": f"asset://{asset.upstream_id}" if asset.upstream_id else None,
        "kind": asset.kind,
        "consent": public("consent", asset.consent_id),
        **_person(event),
    }
    if event.action == "asset.failed":
        data["error_code"] = asset.error_code
    if void:
        data["clearances_voided"] = clearances.void_for_asset(asset_id=asset.pk, reason=void)
    return data


def _destroyed(event: AuditEvent) -> dict[str, object] | None:
    if event.payload.get("consents_pending") or event.payload.get("error"):
        return None  # not done yet: a later run records retention again
    return _person(event)


# Ledger action → webhook event. Documented per event in docs/api.md.
MAPPINGS: dict[str, Mapping] = {
    "verification.completed": Mapping("session.verified", _session),
    "verification.group_reused": Mapping("session.verified", _session),
    "verification.failed": Mapping("session.failed", _session),
    "session.expired": Mapping("session.expired", _session),
    "session.cancelled": Mapping("session.cancelled", _session),
    "consent.given": Mapping("consent.given", _consent),
    "consent.withdrawn": Mapping("consent.withdrawn", lambda e: _consent(e, void="withdrawn")),
    "consent.expiring": Mapping("consent.expiring", _consent),
    "consent.expired": Mapping("consent.expired", lambda e: _consent(e, void="expired")),
    "asset.active": Mapping("asset.active", _asset),
    "asset.failed": Mapping("asset.failed", _asset),
    "asset.deleted": Mapping("asset.deleted", lambda e: _asset(e, void="asset_deleted")),
    "retention.applied": Mapping("person.destroyed", _destroyed),
}
EVENT_TYPES = sorted({m.type for m in MAPPINGS.values()})


def sweep(*, batch: int = BATCH) -> set[int]:
    """Turn the ledger events past the cursor into webhook events; the endpoints with new ones."""
    from integrations.tasks import deliver_webhooks
    from portal.queueing import enqueue_on_commit

    created: set[int] = set()
    with transaction.atomic():
        OutboxCursor.objects.bulk_create([OutboxCursor(pk=1)], ignore_conflicts=True)
        cursor = OutboxCursor.objects.select_for_update().get(pk=1)
        events = list(AuditEvent.objects.filter(seq__gt=cursor.seq).order_by("seq")[:batch])
        if not events:
            return created
        endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
        now = timezone.now()
        for event in events:
            mapping = MAPPINGS.get(event.action)
            if mapping is None:
                continue
            data = mapping.data(event)
            if data is None:
                continue
            webhook = WebhookEvent.objects.create(
                public_id=f"evt_{event.seq}",
                type=mapping.type,
                ledger_seq=event.seq,
                payload={
                    "type": mapping.type,
                    "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
                    "data": data,
                },
                created_at=now,
            )
            wanted = [e for e in endpoints if e.wants(mapping.type)]
            WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(event=webhook, endpoint=e, next_attempt_at=now, created_at=now)
                    for e in wanted
                ]
            )
            created.update(e.pk for e in wanted)
        OutboxCursor.objects.filter(pk=1).update(seq=events[-1].seq)
        for pk in sorted(created):
            enqueue_on_commit(deliver_webhooks, pk, sweep="integrations.tasks.sweep_webhooks")
    return created

"""The staff session page's timeline: each ledger event as a sentence, not its action code."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.models import AuditEvent

CHANNELS = {"email": "email", "sms": "SMS", "in_person": "a link shown in person"}


@dataclass(frozen=True)
class Entry:
    at: datetime
    words: str
    action: str  # the ledger's code, for whoever looks an event up in the admin


def _who(event: AuditEvent, person_name: str) -> str:
    if event.actor_kind == "person":
        return person_name
    if event.actor_kind == "staff":
        return event.actor_label or f"staff member {event.actor_id}"
    return "the portal" if event.actor_label in ("", "system") else event.actor_label


def describe(event: AuditEvent, *, person_name: str) -> str:
    payload: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
    who = _who(event, person_name)
    channel = CHANNELS.get(str(payload.get("channel", "")), str(payload.get("channel", "")))
    replaced = payload.get("links_revoked") or 0
    and_replaced = f"; {replaced} earlier link{'s' if replaced != 1 else ''} stopped working"
    sentences = {
        "session.created": f"Verification started by {who}, to reach them by {channel}",
        "invitation.queued": f"New link queued for sending by {channel} by {who}"
        + (and_replaced if replaced else ""),
        "invitation.sent": f"Invitation sent by {channel}",
        "invitation.failed": f"The invitation by {channel} could not be sent: "
        f"{payload.get('error', 'no reason given')}",
        "invitation.shown": f"Link shown as a QR code by {who}"
        + (and_replaced if replaced else ""),
        "invitation.opened": f"Invitation opened by {who}",
        "consent.given": f"Consent given by {who}, signed “{payload.get('signature_name', '')}”",
        "consent.withdrawn": f"Consent withdrawn by {who}",
        "verification.started": f"Liveness check started by {who}",
        "verification.completed": "Verified by the upstream",
        "verification.failed": "The liveness check did not pass at the upstream",
        "verification.attempt_expired": "A liveness check was left unfinished and expired",
        "verification.late_result": "A late result arrived from the upstream",
        "verification.group_reused": "Verified: the person's existing asset group serves again",
        "session.cancelled": f"Cancelled by {who}" + (and_replaced if replaced else ""),
        "session.expired": "Expired: the links ran out before the verification was finished",
        "destruction.completed": "Everything the consent covered was deleted",
        "retention.applied": "Retention deadline reached: the media was deleted",
    }
    return sentences.get(
        event.action, f"{event.action.replace('.', ' ').replace('_', ' ')} ({who})"
    )


def timeline(events: Any, *, person_name: str) -> list[Entry]:
    return [
        Entry(event.occurred_at, describe(event, person_name=person_name), event.action)
        for event in events
    ]

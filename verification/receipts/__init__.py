"""Consent receipts: what a person agreed to, as a JSON document and a PDF, sent after consenting
and downloadable from their link at any time.

The JSON follows the spirit of ISO/IEC TS 27560 and the Kantara consent receipt: who collects
(controller), whose consent (subject), the exact words (text and SHA-256), scope (project, intended
use, media kinds, term), when and how it was given, and its state now (verification, ledger
position, assets held under it, withdrawal). `receipt_sha256` is the SHA-256 of the UTF-8 canonical
JSON (sorted keys, no whitespace) of every other member, so a copy can be checked for changes; it
proves integrity, not origin. Origin is what the ledger position and its signed checkpoint are for.

A receipt is built fresh each time: the consent and its text never change, but assets, the
verification and the ledger head move on, and `issued_at` says when this copy was made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from assets.models import Asset
from ledger.chain import format_instant
from ledger.models import AuditEvent, LedgerCheckpoint, LedgerHead
from ledger.signing import CHECKPOINT_FORMAT, fingerprint, public_base64, signing_key
from verification.models import Consent
from verification.receipts.pdf import render_pdf

__all__ = [
    "build_receipt",
    "email_receipt",
    "filename",
    "receipt_digest",
    "receipt_id",
    "receipt_json",
    "render_pdf",
    "send_receipt",
    "unsent_receipts",
    "verify_receipt",
]

logger = logging.getLogger(__name__)

RECEIPT_VERSION = "1"
# Fixed for Sitter receipts; the id also names the consent's signing instant, so two
# installations' consent #1 still get different ids.
RECEIPT_NAMESPACE = uuid.UUID("8fc1ce5b-9f5d-46e8-9bcd-a79196cf834e")
HASH_METHOD = "SHA-256 of the UTF-8 title, a blank line, then the body, with LF line ends"
MEDIA_DESCRIPTIONS = {"image": "face images", "video": "video", "audio": "voice recordings"}


# --- JSON ----------------------------------------------------------------------------------------


# A refused attempt the person dismissed: deleted, never sent on, with the refusal kept.
DISMISSED = Q(
    status=Asset.Status.DELETED, forwarded_at__isnull=True, upstream_id="", error_message__gt=""
)


def held(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    """Files the studio took in, less the attempts refused at intake (and those dismissed)."""
    return assets.exclude(status=Asset.Status.REJECTED).exclude(DISMISSED)


def receipt_id(consent: Consent) -> str:
    """Stable for the life of the consent; derived, so nothing new is stored."""
    return str(uuid.uuid5(RECEIPT_NAMESPACE, f"consent/{consent.pk}/{_instant(consent.signed_at)}"))


def build_receipt(consent: Consent) -> dict[str, Any]:
    """The receipt of one consent as it stands now: JSON-serialisable, keys in a fixed order,
    with `receipt_sha256` last."""
    consent = (
        Consent.objects.select_related("person", "text", "project", "session__account")
        .filter(pk=consent.pk)
        .get()
    )
    text = consent.text
    session = consent.session
    if consent.withdrawn_at is not None:
        state = "withdrawn"
    elif not consent.is_active():
        state = "expired"
    else:
        state = "active"
    given = _event(consent, "consent.given")
    body: dict[str, Any] = {
        "receipt_version": RECEIPT_VERSION,
        "receipt_id": receipt_id(consent),
        "issued_at": _instant(timezone.now()),
        "controller": {"name": settings.STUDIO_NAME, "contact": settings.DEFAULT_FROM_EMAIL},
        # Name and the id the ledger knows the person by. No email or phone: they are how the
        # studio reaches the person, not part of the agreement, and a receipt gets forwarded.
        "subject": {"id": consent.person_id, "name": consent.person.full_name},
        "consent": {
            "state": state,
            "text": {
                "title": text.title,
                "version": text.version,
                "language": text.language,
                "sha256": consent.text_sha256,
                "hash_method": HASH_METHOD,
                "body": text.body,
            },
            "project": consent.project.name,
            "intended_use": consent.intended_use,
            "media_kinds": [
                {"kind": kind, "description": MEDIA_DESCRIPTIONS.get(kind, kind)}
                for kind in consent.media_kinds
            ],
            "term_ends_on": _day(consent.term_ends_on),
            "signed_at": _instant(consent.signed_at),
            "signature_name": consent.signature_name,
            "collection": {
                "method": "web_form",
                "invitation_channel": session.channel if session else None,
                "ip": consent.ip,
                "user_agent": consent.user_agent,
                # A link staff showed in person: who showed it, and on which browser.
                "in_person": {"shown_by": consent.shown_by_name, "shown_on": consent.shown_on}
                if consent.shown_by_name
                else None,
            },
            "withdrawn_at": _instant(consent.withdrawn_at),
        },
        "verification": _verification(consent),
        "ledger": {
            "consent_given": given,
            "head": _head(),
            "checkpoint": _checkpoint(after=given["seq"]) if given else None,
        },
        "assets": [
            {
                "name": asset.original_name,
                "kind": asset.kind,
                "sha256": asset.sha256,
                "size_bytes": asset.size_bytes,
                "status": asset.status,
                "upstream_id": asset.upstream_id,
                "added_at": _instant(asset.created_at),
            }
            for asset in held(Asset.objects.filter(consent=consent)).order_by("created_at", "pk")
        ],
        "withdrawal": {
            "withdrawn": consent.withdrawn_at is not None,
            "withdrawn_at": _instant(consent.withdrawn_at),
            "ledger": _event(consent, "consent.withdrawn"),
            "media_destroyed_at": _instant(consent.destroyed_at),
            "how": "Open your personal link from the invitation and press Withdraw.",
        },
    }
    body["receipt_sha256"] = receipt_digest(body)
    return body


def receipt_digest(receipt: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of every member except `receipt_sha256`."""
    rest = {key: value for key, value in receipt.items() if key != "receipt_sha256"}
    canonical = json.dumps(
        rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verify_receipt(receipt: dict[str, Any]) -> bool:
    """True when `receipt_sha256` matches the rest of the document."""
    return receipt.get("receipt_sha256") == receipt_digest(receipt)


def receipt_json(receipt: dict[str, Any]) -> bytes:
    """The file people download: indented for reading, UTF-8, in the receipt's own key order."""
    return (json.dumps(receipt, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def filename(receipt: dict[str, Any], extension: str) -> str:
    return f"receipt-{receipt['receipt_id']}.{extension}"


def _instant(moment: datetime | None) -> str | None:
    return format_instant(moment) if moment is not None else None


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _event(consent: Consent, action: str) -> dict[str, Any] | None:
    event = AuditEvent.objects.for_subject(consent).filter(action=action).first()
    if event is None:
        return None
    return {"seq": event.seq, "hash": event.hash, "occurred_at": _instant(event.occurred_at)}


def _head() -> dict[str, Any] | None:
    head = LedgerHead.objects.filter(pk=1).first()
    return {"seq": head.seq, "hash": head.hash} if head is not None else None


def _checkpoint(*, after: int) -> dict[str, Any] | None:
    checkpoint = LedgerCheckpoint.objects.filter(seq__gte=after).order_by("-seq").first()
    if checkpoint is None:
        return None
    return {
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "created_at": _instant(checkpoint.created_at),
        "format": CHECKPOINT_FORMAT,
        "signature": checkpoint.signature,
        "key_fingerprint": checkpoint.key_fingerprint,
        "public_key": _public_key(checkpoint.key_fingerprint),
    }


def _public_key(wanted_fingerprint: str) -> str | None:
    """The Ed25519 public key (base64) that checks the signature, if it is still the configured
    one; after a key rotation only the fingerprint is known here."""
    try:
        public = signing_key().public_key()
    except ValueError:
        return None
    return public_base64(public) if fingerprint(public) == wanted_fingerprint else None


def _verification(consent: Consent) -> dict[str, Any] | None:
    session = consent.session
    if session is None:
        return None
    return {
        "status": session.status,
        "completed_at": _instant(session.completed_at),
        "group_id": session.upstream_group_id or None,
        "upstream_account": {"name": session.account.name, "provider": session.account.adapter},
    }


# --- Email ---------------------------------------------------------------------------------------


def send_receipt(*, consent: Consent) -> bool:
    """Email the receipt (PDF and JSON attached) to the person, in their language.

    Returns True when the mail server took it; False when the person has no email address or the
    server refused it (logged, never raised: the receipt stays downloadable from the link).
    """
    person = consent.person
    if not person.email:
        return False
    with translation.override(person.language):
        receipt = build_receipt(consent)
        context = {
            "person": person,
            "consent": consent,
            "project": consent.project,
            "studio": settings.STUDIO_NAME,
            "receipt": receipt,
        }
        subject = " ".join(
            render_to_string("verification/email/receipt_subject.txt", context).split()
        )
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string("verification/email/receipt.txt", context),
            to=[person.email],
        )
        message.attach_alternative(
            render_to_string("verification/email/receipt.html", context), "text/html"
        )
        message.attach(filename(receipt, "pdf"), render_pdf(receipt), "application/pdf")
    message.attach(filename(receipt, "json"), receipt_json(receipt), "application/json")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning(
            "could not email the receipt to person %s: %s", person.pk, type(error).__name__
        )
        return False
    return True


# A receipt not sent a minute after consenting (its task was lost, or the mail server refused it)
# is sent by the sweep, which keeps trying for a day; it stays downloadable from the link anyway.
UNSENT_RECEIPT_AGE = timedelta(minutes=1)
UNSENT_RECEIPT_WINDOW = timedelta(days=1)
UNSENT_RECEIPTS_PER_SWEEP = 20  # each builds a PDF: a mail server down for hours costs little


def email_receipt(*, consent_id: int) -> bool:
    """Email the consent's receipt unless it went already; False when the mail server refused it.

    Claimed on `receipt_sent_at` before sending, so a late task and the sweep never both send it;
    a worker killed in between loses that one email, which the person can download instead.
    """
    consent = Consent.objects.select_related("person", "project", "text").get(pk=consent_id)
    if consent.receipt_sent_at is not None or not consent.person.email:
        return True
    claimed_at = timezone.now()
    if not Consent.objects.filter(pk=consent.pk, receipt_sent_at__isnull=True).update(
        receipt_sent_at=claimed_at
    ):
        return True
    if send_receipt(consent=consent):
        return True
    Consent.objects.filter(pk=consent.pk, receipt_sent_at=claimed_at).update(receipt_sent_at=None)
    return False


def unsent_receipts(*, now: datetime | None = None) -> list[int]:
    """Consents of the last day, not withdrawn, whose receipt email has not gone out."""
    now = now or timezone.now()
    return list(
        Consent.objects.filter(
            receipt_sent_at__isnull=True,
            withdrawn_at__isnull=True,
            signed_at__lt=now - UNSENT_RECEIPT_AGE,
            signed_at__gt=now - UNSENT_RECEIPT_WINDOW,
        )
        .exclude(person__email="")
        .order_by("-signed_at")
        .values_list("pk", flat=True)[:UNSENT_RECEIPTS_PER_SWEEP]
    )

"""Witnesses: a copy of each signed checkpoint sent where the portal can't reach it again.

A checkpoint in the database proves nothing against whoever can rewrite the database: they can
rewrite the chain and the checkpoints with it. A copy in the mailboxes of `AUDIT_WITNESS_EMAILS`
(an auditor, a lawyer, the studio's archive) can't be reached that way. Each message carries the
signed statement as a JSON file; `verify_audit --expect checkpoint-N.json` checks its signature
with the portal's public key and then that the chain still holds that event with that hash.
"""

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.dateparse import parse_datetime

from ledger.chain import format_instant
from ledger.models import LedgerCheckpoint
from ledger.signing import CHECKPOINT_FORMAT, checkpoint_message, fingerprint, is_valid


class BadStatement(ValueError):
    """A witness file that is not a checkpoint statement, or not one signed by a trusted key."""


def statement(checkpoint: LedgerCheckpoint) -> dict[str, Any]:
    """Everything needed to check the checkpoint without the database: the signed fields, the
    signature and which key made it."""
    return {
        "v": CHECKPOINT_FORMAT,
        "seq": checkpoint.seq,
        "hash": checkpoint.head_hash,
        "created_at": format_instant(checkpoint.created_at),
        "signature": checkpoint.signature,
        "key_fingerprint": checkpoint.key_fingerprint,
    }


def is_due(checkpoint: LedgerCheckpoint) -> bool:
    """Whether witnesses get this checkpoint: the first one of each `AUDIT_WITNESS_INTERVAL`
    (checkpoints come every few seconds while the ledger moves; mailboxes need far fewer)."""
    previous = (
        LedgerCheckpoint.objects.filter(seq__lt=checkpoint.seq).order_by("-seq").only("created_at")
    ).first()
    if previous is None:
        return True
    window = settings.AUDIT_WITNESS_INTERVAL.total_seconds()
    return previous.created_at.timestamp() // window != checkpoint.created_at.timestamp() // window


def file_name(checkpoint: LedgerCheckpoint) -> str:
    return f"checkpoint-{checkpoint.seq}.json"


def send_to_witnesses(checkpoint: LedgerCheckpoint) -> int:
    """Email the checkpoint's statement to every witness; returns the messages sent (0 or 1).
    A delivery failure raises, so the caller can retry."""
    recipients = settings.AUDIT_WITNESS_EMAILS
    if not recipients:
        return 0
    body = (
        f"{settings.STUDIO_NAME}'s consent portal signed its audit ledger at event "
        f"#{checkpoint.seq}.\n\n"
        f"  event:     #{checkpoint.seq}\n"
        f"  hash:      {checkpoint.head_hash}\n"
        f"  signed at: {format_instant(checkpoint.created_at)}\n"
        f"  key:       {checkpoint.key_fingerprint}\n\n"
        "Keep this message and its attachment. Should the ledger ever be questioned, an operator "
        "runs\n\n"
        f"  python manage.py verify_audit --expect {file_name(checkpoint)}\n\n"
        "which checks the attachment's signature and that the ledger still holds this event "
        "with this hash: history rewritten before this point shows as broken.\n"
    )
    message = EmailMessage(
        subject=f"[{settings.STUDIO_NAME}] Audit ledger checkpoint #{checkpoint.seq}",
        body=body,
        to=recipients,
    )
    message.attach(
        file_name(checkpoint),
        json.dumps(statement(checkpoint), indent=2, sort_keys=True) + "\n",
        "application/json",
    )
    return message.send()


def read_statement(path: Path, keys: list[Ed25519PublicKey]) -> tuple[int, str]:
    """The (seq, hash) a witness file vouches for, once its signature verifies with one of `keys`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        seq, head_hash = int(document["seq"]), str(document["hash"])
        created_at = parse_datetime(str(document["created_at"]))
        signature = str(document["signature"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BadStatement(f"{path}: not a checkpoint statement ({error})") from error
    if document.get("v") != CHECKPOINT_FORMAT or created_at is None:
        raise BadStatement(f"{path}: not a {CHECKPOINT_FORMAT} statement")
    message = checkpoint_message(seq=seq, head_hash=head_hash, created_at=created_at)
    if not any(is_valid(message, signature, key) for key in keys):
        tried = ", ".join(fingerprint(key)[:16] for key in keys)
        raise BadStatement(
            f"{path}: the signature does not verify with the key ({tried}); "
            "this statement was not signed by this portal, or was changed"
        )
    return seq, head_hash

"""Signed checkpoints: the configured key vouches for the chain's head at a moment in time."""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger.chain import GENESIS_HASH
from ledger.models import LedgerCheckpoint, LedgerHead
from ledger.signing import checkpoint_message, fingerprint, sign, signing_key
from ledger.verify import Anchor, ChainWalker, Report, walk


class LedgerBroken(RuntimeError):
    """The events since the last checkpoint don't verify; nothing was signed."""

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(f"audit ledger does not verify, not signing: {report.problems[0]}")


def write_checkpoint(*, key: Ed25519PrivateKey | None = None) -> LedgerCheckpoint | None:
    """Sign the current head if it moved since the last checkpoint; None when it didn't.

    The events since the previous checkpoint are verified first (hashes, links, contiguity, the
    head), so a checkpoint never vouches for a broken chain: `LedgerBroken` otherwise. Safe to run
    twice at once: checkpoint seqs are unique, and the loser returns None. `key` defaults to
    `AUDIT_SIGNING_KEY`.
    """
    key = key or signing_key()
    head = LedgerHead.objects.filter(pk=1).first()
    if head is None or head.seq == 0:
        return None
    previous = LedgerCheckpoint.objects.order_by("-seq").first()
    if previous is not None and previous.seq >= head.seq:
        return None
    start_seq, start_hash = (previous.seq, previous.head_hash) if previous else (0, GENESIS_HASH)
    report = Report()
    walker = ChainWalker(
        report,
        [Anchor(head.seq, head.hash, "the head table")],
        start_seq=start_seq,
        start_hash=start_hash,
    )
    walk(walker, after=start_seq, upto=head.seq)
    report.sort()
    if not report.ok:
        raise LedgerBroken(report)

    created_at = timezone.now()
    message = checkpoint_message(seq=head.seq, head_hash=head.hash, created_at=created_at)
    checkpoint = LedgerCheckpoint(
        seq=head.seq,
        head_hash=head.hash,
        signature=sign(message, key),
        key_fingerprint=fingerprint(key.public_key()),
        created_at=created_at,
    )
    try:
        with transaction.atomic():
            checkpoint.save()
    except IntegrityError:
        return None
    return checkpoint

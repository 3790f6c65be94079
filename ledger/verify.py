"""Checking the ledger: every hash recomputed, every link and seq followed, every checkpoint's
signature checked and its event found with the signed hash.

`verify_ledger` streams the chain in seq order (constant memory) and returns a `Report` whose
problems are sorted by seq, so the first one names the first broken event. Anchors are claims of
the form "event N has hash H" made outside the chain: signed checkpoints, the head table, and
digests an auditor kept elsewhere. They catch what an internally consistent chain can't show on
its own: a cut tail, or history rewritten and re-hashed by someone who knows the format.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection, transaction

from ledger import triggers
from ledger.chain import GENESIS_HASH, HASHED_FIELDS, event_hash
from ledger.models import AuditEvent, LedgerCheckpoint, LedgerHead
from ledger.signing import checkpoint_message, fingerprint, is_valid

CHUNK_SIZE = 5000
MAX_LISTED_PROBLEMS = 100


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    name: str


@dataclass(frozen=True, slots=True)
class Problem:
    # Where it sorts: the event it concerns, or after every event when it concerns none.
    seq: int | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Report:
    events: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    checkpoints_verified: int = 0
    problems: list[Problem] = field(default_factory=list)
    unlisted_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(problem)
        else:
            self.unlisted_problems += 1

    def sort(self) -> None:
        self.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))


class ChainWalker:
    """Follows events fed in seq order from a known position (genesis, or a verified event)."""

    def __init__(
        self,
        report: Report,
        anchors: Iterable[Anchor] = (),
        *,
        start_seq: int = 0,
        start_hash: str = GENESIS_HASH,
    ) -> None:
        self.report = report
        self.anchors: dict[int, list[Anchor]] = {}
        for anchor in anchors:
            self.anchors.setdefault(anchor.seq, []).append(anchor)
        self.start_seq = start_seq
        report.last_seq, report.last_hash = start_seq, start_hash

    def feed(self, fields: Mapping[str, object], stored_hash: str) -> None:
        report = self.report
        seq = fields["seq"]
        assert isinstance(seq, int)
        if seq <= report.last_seq:
            if seq > self.start_seq:
                report.add(Problem(seq, f"event {seq}: duplicate (seq {seq} appears again)"))
            else:
                report.add(Problem(seq, f"event {seq}: seq precedes the start of the chain"))
            return
        after_gap = seq != report.last_seq + 1
        if after_gap:
            first, last = report.last_seq + 1, seq - 1
            missing = f"event {first}" if first == last else f"events {first}–{last}"
            report.add(Problem(first, f"sequence gap after {report.last_seq}: {missing} missing"))
        recomputed = event_hash(fields)
        if recomputed != stored_hash:
            report.add(
                Problem(
                    seq,
                    f"event {seq}: hash mismatch (stored {stored_hash[:16]}…, "
                    f"recomputed {recomputed[:16]}…)",
                )
            )
        # Right after a gap the link can't match; the gap already says why.
        if not after_gap and fields["prev_hash"] != report.last_hash:
            report.add(Problem(seq, f"event {seq}: prev_hash does not match event {seq - 1}"))
        for anchor in self.anchors.pop(seq, ()):
            if anchor.hash != stored_hash:
                report.add(Problem(seq, f"event {seq}: hash differs from the one in {anchor.name}"))
        report.events += 1
        report.last_seq, report.last_hash = seq, stored_hash

    def finish(self) -> None:
        """Report anchors naming events the chain doesn't have (a cut tail, a deleted event)."""
        report = self.report
        for seq, anchors in sorted(self.anchors.items()):
            for anchor in anchors:
                if seq > report.last_seq:
                    message = (
                        f"sequence gap after {report.last_seq}: the chain ends there, "
                        f"but {anchor.name} names event {seq}"
                    )
                    report.add(Problem(report.last_seq + 1, message))
                elif seq > self.start_seq:
                    report.add(Problem(seq, f"event {seq} is missing, but {anchor.name} names it"))
        self.anchors.clear()


def walk(
    walker: ChainWalker, *, after: int = 0, upto: int | None = None, chunk_size: int = CHUNK_SIZE
) -> None:
    """Feed `walker` every stored event with `after` < seq (≤ `upto`), in seq order."""
    events = AuditEvent.objects.filter(seq__gt=after)
    if upto is not None:
        events = events.filter(seq__lte=upto)
    rows = events.order_by("seq").values_list(*HASHED_FIELDS, "hash")
    for row in rows.iterator(chunk_size=chunk_size):
        # Each row is the hashed fields followed by the stored hash.
        walker.feed(dict(zip(HASHED_FIELDS, row[:-1], strict=True)), row[-1])
    walker.finish()


def checkpoint_anchors(
    report: Report, keys: Iterable[Ed25519PublicKey]
) -> tuple[list[Anchor], list[Problem]]:
    """Anchors from every checkpoint whose signature verifies with one of `keys`, and a problem
    for each that doesn't: an unsigned claim proves nothing."""
    by_fingerprint = {fingerprint(key): key for key in keys}
    anchors: list[Anchor] = []
    problems: list[Problem] = []
    for checkpoint in LedgerCheckpoint.objects.order_by("seq").iterator(chunk_size=CHUNK_SIZE):
        name = f"the checkpoint at seq {checkpoint.seq}"
        key = by_fingerprint.get(checkpoint.key_fingerprint)
        message = checkpoint_message(
            seq=checkpoint.seq, head_hash=checkpoint.head_hash, created_at=checkpoint.created_at
        )
        if key is None:
            problems.append(
                Problem(
                    checkpoint.seq,
                    f"{name}: signed by unknown key {checkpoint.key_fingerprint[:16]}…",
                )
            )
        elif not is_valid(message, checkpoint.signature, key):
            problems.append(Problem(checkpoint.seq, f"{name}: bad signature"))
        else:
            anchors.append(Anchor(checkpoint.seq, checkpoint.head_hash, name))
            report.checkpoints_verified += 1
    return anchors, problems


@contextmanager
def consistent_reads() -> Iterator[bool]:
    """On PostgreSQL, one read-only snapshot for everything inside (yields True). Elsewhere,
    or inside a caller's transaction, plain reads (yields False): SQLite would take its write
    lock for an explicit transaction and stall every writer for the whole walk."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield False
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield True


def verify_ledger(
    *,
    keys: Iterable[Ed25519PublicKey],
    expected: Iterable[Anchor] = (),
    chunk_size: int = CHUNK_SIZE,
) -> Report:
    """Check the whole ledger against itself, its head, its checkpoints (signatures checked with
    `keys`) and any `expected` anchors an auditor supplies; also that the triggers are in place."""
    report = Report()
    with consistent_reads() as snapshot:
        anchors, signature_problems = checkpoint_anchors(report, keys)
        anchors.extend(expected)
        head = LedgerHead.objects.filter(pk=1).first()
        if head is not None and head.seq > 0:
            anchors.append(Anchor(head.seq, head.hash, "the head table"))
        walker = ChainWalker(report, anchors)
        walk(walker, chunk_size=chunk_size)
        if report.events and head is None:
            report.add(Problem(None, "the head table is empty but events exist"))
        # Without a snapshot, writers may have appended after the head was read.
        if snapshot and head is not None and head.seq < report.last_seq:
            report.add(
                Problem(
                    head.seq + 1,
                    f"the head table names event {head.seq}, "
                    f"but the chain continues to {report.last_seq}",
                )
            )
    for problem in signature_problems:
        report.add(problem)
    for name in triggers.missing(connection):
        report.add(Problem(None, f"append-only trigger {name} is missing or disabled"))
    report.sort()
    return report

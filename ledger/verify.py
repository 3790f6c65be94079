"""Checking the ledger: every hash recomputed, every link and seq followed, every checkpoint's
signature checked and its event found with the signed hash.

`verify_ledger` streams the chain in seq order (constant memory) and returns a `Report` whose
problems are sorted by seq, so the first one names the first broken event. Anchors are claims of
the form "event N has hash H" made outside the chain: signed checkpoints, the head table, and
digests an auditor kept elsewhere. They catch what an internally consistent chain can't show on
its own: a cut tail, or history rewritten and re-hashed by someone who knows the format.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ledger import triggers
from ledger.chain import (
    FORMAT_VERSION,
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    event_hash,
    format_instant,
)
from ledger.models import LedgerCheckpoint, LedgerHead
from ledger.signing import checkpoint_message, fingerprint, is_valid

CHUNK_SIZE = 5000
MAX_LISTED_PROBLEMS = 100


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    name: str
    # A signed checkpoint statement kept outside (a witness file): the database must still hold
    # that checkpoint, since checkpoints are never deleted.
    signed: bool = False


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
    # The newest checkpoint whose signature verified: (seq, created_at).
    newest_checkpoint: tuple[int, datetime] | None = None
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

    def feed(self, seq: int, prev_hash: str, stored_hash: str, recomputed_hash: str) -> None:
        """The next stored event: its seq, prev_hash and hash as stored, and the hash its
        columns give (see `stored_hashes`)."""
        report = self.report
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
        if recomputed_hash != stored_hash:
            recomputed = recomputed_hash[:16] + "…" if recomputed_hash else "unreadable columns"
            report.add(
                Problem(
                    seq,
                    f"event {seq}: hash mismatch (stored {stored_hash[:16]}…, "
                    f"recomputed {recomputed})",
                )
            )
        # Right after a gap the link can't match; the gap already says why.
        if not after_gap and prev_hash != report.last_hash:
            report.add(Problem(seq, f"event {seq}: prev_hash does not match event {seq - 1}"))
        if seq in self.anchors:
            for anchor in self.anchors.pop(seq):
                if anchor.hash != stored_hash:
                    report.add(
                        Problem(seq, f"event {seq}: hash differs from the one in {anchor.name}")
                    )
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
    feed = walker.feed
    for seq, prev_hash, stored_hash, recomputed_hash in stored_hashes(
        after=after, upto=upto, chunk_size=chunk_size
    ):
        feed(seq, prev_hash, stored_hash, recomputed_hash)
    walker.finish()


_COLUMNS = (
    "seq, prev_hash, occurred_at, actor_kind, actor_id, actor_label, action, subject_type, "
    "subject_id, person_id, payload, ip, user_agent"
)
# One bound, the chunk size written in: PostgreSQL plans a prepared statement once for any
# values, and with an upper bound or a parameter LIMIT that plan may scan and sort the rest of the
# table for every chunk. `upto` is applied while reading instead.
_CHUNK = "FROM ledger_auditevent WHERE seq > %s ORDER BY seq LIMIT {limit:d}"
# On SQLite the database writes each event's canonical document itself, so Python only hashes.
# It applies where the row is as Django writes it: the instant in Django's spelling of UTC
# ("YYYY-MM-DD HH:MM:SS.ffffff") and the payload the canonical JSON text `CanonicalJSONEncoder`
# wrote (json_valid: one complete JSON value). Any JSON string quoting will do: the document
# hashes to the stored hash only if its bytes are the canonical ones. A row that doesn't (NULL
# here, or another spelling) is decided on its values decoded as Django reads them.
SQLITE_DOCUMENT = f"""
    CASE WHEN length(occurred_at) = 26 AND substr(occurred_at, 11, 1) = ' '
        AND json_valid(payload) THEN
        '{{"action":' || json_quote(action) || ',"actor_id":' || json_quote(actor_id)
        || ',"actor_kind":' || json_quote(actor_kind)
        || ',"actor_label":' || json_quote(actor_label) || ',"ip":' || json_quote(ip)
        || ',"occurred_at":"' || substr(occurred_at, 1, 10) || 'T' || substr(occurred_at, 12)
        || 'Z","payload":' || payload
        || ',"person_id":' || coalesce(CAST(person_id AS TEXT), 'null')
        || ',"prev_hash":' || json_quote(prev_hash) || ',"seq":' || CAST(seq AS TEXT)
        || ',"subject_id":' || json_quote(subject_id)
        || ',"subject_type":' || json_quote(subject_type)
        || ',"user_agent":' || json_quote(user_agent) || ',"v":{FORMAT_VERSION}}}'
    END
"""


def stored_hashes(
    *, after: int = 0, upto: int | None = None, chunk_size: int = CHUNK_SIZE
) -> Iterator[tuple[int, str, str, str]]:
    """(seq, prev_hash, stored hash, recomputed hash) of each stored event after `after` (up to
    `upto`), in seq order, read `chunk_size` rows at a time by seq (memory stays flat). The
    recomputed hash is "" when the columns can't even be decoded. Rows are read past Django's
    converters: its SQLite datetime converter alone costs more than the hashing."""
    chunk = _CHUNK.format(limit=chunk_size)
    sqlite = connection.vendor == "sqlite"
    last = after
    with connection.cursor() as cursor:
        while True:
            document = SQLITE_DOCUMENT if sqlite else POSTGRES_DOCUMENT
            cursor.execute(f"SELECT seq, prev_hash, hash, {document} {chunk}", [last])
            rows = cursor.fetchall()
            complete = len(rows) < chunk_size
            if upto is not None and rows and rows[-1][0] > upto:
                rows, complete = [row for row in rows if row[0] <= upto], True
            yield from _hash_documents(rows) if sqlite else _hash_payload_documents(rows)
            if complete:
                return
            last = rows[-1][0]


def _hash_documents(rows: list[tuple[Any, ...]]) -> Iterator[tuple[int, str, str, str]]:
    sha256 = hashlib.sha256
    for seq, prev_hash, stored, document in rows:
        recomputed = sha256(document.encode()).hexdigest() if document is not None else ""
        if recomputed != stored:
            recomputed = _decoded_hash(_columns_of(seq))
        yield seq, prev_hash, stored, recomputed


# On PostgreSQL the database writes the document around the payload; jsonb has its own layout,
# so the payload is decoded and written canonically in Python. As on SQLite, any JSON string
# quoting will do, and a row whose document doesn't hash to the stored hash is decided on its
# decoded values.
POSTGRES_DOCUMENT = f"""
    '{{"action":' || to_json(action)::text || ',"actor_id":' || to_json(actor_id)::text
    || ',"actor_kind":' || to_json(actor_kind)::text
    || ',"actor_label":' || to_json(actor_label)::text || ',"ip":' || to_json(ip)::text
    || ',"occurred_at":"'
    || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || 'Z","payload":',
    payload::text,
    ',"person_id":' || coalesce(person_id::text, 'null')
    || ',"prev_hash":' || to_json(prev_hash)::text || ',"seq":' || seq::text
    || ',"subject_id":' || to_json(subject_id)::text
    || ',"subject_type":' || to_json(subject_type)::text
    || ',"user_agent":' || to_json(user_agent)::text || ',"v":{FORMAT_VERSION}}}'
"""


def _hash_payload_documents(
    rows: list[tuple[Any, ...]],
) -> Iterator[tuple[int, str, str, str]]:
    sha256, loads = hashlib.sha256, json.loads
    for seq, prev_hash, stored, head, payload, tail in rows:
        try:
            text = head + canonical_json(loads(payload)) + tail
            recomputed = sha256(text.encode()).hexdigest()
        except (ValueError, TypeError):
            recomputed = ""
        if recomputed != stored:
            recomputed = _decoded_hash(_columns_of(seq))
        yield seq, prev_hash, stored, recomputed


def _columns_of(seq: int) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_COLUMNS} FROM ledger_auditevent WHERE seq = %s",  # noqa: S608
            [seq],
        )
        return cursor.fetchone()


def _decoded_hash(row: tuple[Any, ...]) -> str:
    """The hash of a stored row decoded as Django would read it; "" if it can't be."""
    instant, payload = row[2], row[10]
    try:
        # SQLite's driver may hand back text or, through Django's converter, a naive datetime.
        if isinstance(instant, str):
            instant = parse_datetime(instant)
        if not isinstance(instant, datetime):
            return ""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        fields = dict(zip(HASHED_FIELDS, (*row[:2], instant, *row[3:10]), strict=False))
        fields.update(payload=json.loads(payload), ip=row[11], user_agent=row[12])
        return event_hash(fields)
    except (ValueError, TypeError):
        return ""


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
            report.newest_checkpoint = (checkpoint.seq, checkpoint.created_at)
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
    as_of: datetime | None = None,
) -> Report:
    """Check the whole ledger against itself, its head, its checkpoints (signatures checked with
    `keys`) and any `expected` anchors an auditor supplies; that checkpoints were being made
    (`check_freshness`, judged at `as_of`, default now); and that the triggers are in place."""
    report = Report()
    expected = list(expected)
    with consistent_reads() as snapshot:
        anchors, signature_problems = checkpoint_anchors(report, keys)
        stored_checkpoints = {(anchor.seq, anchor.hash) for anchor in anchors}
        anchors.extend(expected)
        head = LedgerHead.objects.filter(pk=1).first()
        if head is not None and head.seq > 0:
            anchors.append(Anchor(head.seq, head.hash, "the head table"))
        walker = ChainWalker(report, anchors)
        walk(walker, chunk_size=chunk_size)
        if report.events and (head is None or head.seq == 0):
            report.add(Problem(None, "the head table is empty or reset but events exist"))
        # Without a snapshot, writers may have appended after the head was read.
        if snapshot and head is not None and head.seq < report.last_seq:
            report.add(
                Problem(
                    head.seq + 1,
                    f"the head table names event {head.seq}, "
                    f"but the chain continues to {report.last_seq}",
                )
            )
    for anchor in expected:
        if anchor.signed and (anchor.seq, anchor.hash) not in stored_checkpoints:
            report.add(
                Problem(
                    anchor.seq,
                    f"{anchor.name} is a checkpoint at seq {anchor.seq} that the database no "
                    "longer holds (checkpoints are never deleted)",
                )
            )
    for problem in signature_problems:
        report.add(problem)
    for name in triggers.missing(connection):
        report.add(Problem(None, f"ledger trigger {name} is missing or disabled"))
    check_freshness(report, as_of=as_of or timezone.now())
    report.sort()
    return report


def check_freshness(report: Report, *, as_of: datetime) -> None:
    """The chain can only be cut back unseen past its newest signed checkpoint. Checkpoints are
    made every `AUDIT_CHECKPOINT_INTERVAL` while events come in, so events with no checkpoint
    after them for twice that long mean checkpoints stopped, or were deleted with the chain
    rewritten past them."""
    if not report.events:
        return
    interval: timedelta = settings.AUDIT_CHECKPOINT_INTERVAL
    if report.newest_checkpoint is None:
        report.add(
            Problem(
                None,
                f"no signed checkpoint vouches for the {report.events} events: checkpoints "
                "were deleted, or none was ever made (`audit_checkpoint` makes one; the worker "
                f"and beat make one every {interval.total_seconds():.0f} s)",
            )
        )
        return
    seq, created_at = report.newest_checkpoint
    if report.last_seq > seq and as_of - created_at > 2 * interval:
        report.add(
            Problem(
                seq + 1,
                f"the newest signed checkpoint (seq {seq}, {format_instant(created_at)}) is "
                f"older than twice the checkpoint interval ({2 * interval.total_seconds():.0f} "
                f"s), but events {seq + 1}–{report.last_seq} came after it: checkpoints have "
                "stopped (is beat running?), or the events after it were rewritten",
            )
        )

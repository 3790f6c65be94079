"""Helpers for tests and benchmarks; never imported by the running portal.

`erase_ledger` is the only sanctioned way to empty the ledger, and it exists because Django's test
runner empties every table after each transactional test: the append-only triggers refuse that
once a test has recorded events. A transactional test that records events calls it before the
flush (see the `ledger_transactional` fixture in tests/conftest.py).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from django.db import connection, transaction

from ledger import triggers
from ledger.chain import HASHED_FIELDS, event_hash
from ledger.models import ActorKind, CanonicalJSONEncoder, LedgerHead

COLUMNS = (*HASHED_FIELDS, "hash")
INSERT_ROWS = (
    "INSERT INTO ledger_auditevent (seq, prev_hash, occurred_at, actor_kind, actor_id, "
    "actor_label, action, subject_type, subject_id, person_id, payload, ip, user_agent, hash) "
    "VALUES "
)
ROW_PLACEHOLDERS = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
COPY_ROWS = (
    "COPY ledger_auditevent (seq, prev_hash, occurred_at, actor_kind, actor_id, actor_label, "
    "action, subject_type, subject_id, person_id, payload, ip, user_agent, hash) FROM STDIN"
)


@contextmanager
def triggers_dropped() -> Iterator[None]:
    """Run the block without the append-only triggers (what a database superuser could do)."""
    triggers.uninstall(connection)
    try:
        yield
    finally:
        triggers.install(connection)


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run raw SQL on the default database and return the affected row count."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def erase_ledger() -> None:
    """Delete every event, checkpoint and the head row."""
    with transaction.atomic(), triggers_dropped():
        execute("DELETE FROM ledger_auditevent")
        execute("DELETE FROM ledger_ledgercheckpoint")
        execute("DELETE FROM ledger_ledgerhead")


def append_synthetic(count: int, *, batch_size: int = 1000) -> None:
    """Append `count` valid, plausible events in bulk, far faster than `record()`: no lock, no
    per-event transaction, no ORM. For benchmarks and fixtures on a database nobody else writes
    to."""
    head = LedgerHead.objects.filter(pk=1).first() or LedgerHead.objects.create(pk=1)
    seq, prev_hash = head.seq, head.hash
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ops = connection.ops
    rows: list[list[Any]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for _ in range(count):
            seq += 1
            moment = start + timedelta(milliseconds=37 * seq)
            payload = {"sha256": f"{seq:064x}", "upstream_id": f"asset-{seq}", "size": seq}
            fields: dict[str, object] = {
                "seq": seq,
                "prev_hash": prev_hash,
                "occurred_at": moment,
                "actor_kind": ActorKind.SYSTEM.value,
                "actor_id": "",
                "actor_label": "benchmark",
                "action": "asset.forwarded",
                "subject_type": "assets.asset",
                "subject_id": str(seq),
                "person_id": seq % 997,
                "payload": payload,
                "ip": "192.0.2.7",
                "user_agent": "Mozilla/5.0 (benchmark)",
            }
            prev_hash = event_hash(fields)
            stored = fields | {
                "occurred_at": ops.adapt_datetimefield_value(moment),
                "payload": ops.adapt_json_value(payload, CanonicalJSONEncoder),
                "hash": prev_hash,
            }
            rows.append([stored[name] for name in COLUMNS])
            if len(rows) >= batch_size:
                _write(cursor, rows)
        _write(cursor, rows)
        LedgerHead.objects.filter(pk=1).update(seq=seq, hash=prev_hash)


def _write(cursor: Any, rows: list[list[Any]]) -> None:
    """Insert `rows`, then empty the list: COPY on PostgreSQL (psycopg's client-side binding
    spends seconds parsing a long multi-row INSERT), one multi-row INSERT elsewhere."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(COPY_ROWS) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        flat = list(chain.from_iterable(rows))
        cursor.execute(INSERT_ROWS + ", ".join([ROW_PLACEHOLDERS] * len(rows)), flat)
    rows.clear()

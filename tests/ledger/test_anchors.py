"""What anchors the chain against a cut tail or a rewritten history: a head row that only moves
forward, checkpoints that must exist and keep coming, witnesses that name a head the database must
still hold, and triggers that no session setting switches off."""

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from ledger import tasks, triggers
from ledger.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_bytes,
    canonical_text,
    event_hash,
    format_instant,
)
from ledger.checkpoints import write_checkpoint
from ledger.grants import can_change_evidence, grant_statements
from ledger.models import ActorKind, AuditEvent, LedgerCheckpoint, LedgerHead
from ledger.services import Actor, record
from ledger.signing import signing_key
from ledger.testing import execute, triggers_dropped
from ledger.verify import verify_ledger
from ledger.witness import statement
from tests.ledger.test_verify import tamper, verify

pytestmark = pytest.mark.django_db
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="roles and session settings exist on PostgreSQL"
)
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's INSERT OR REPLACE")
ROLE = "sitter_runtime_anchor_test"


def refused(sql: str, params: list[object] | None = None) -> str:
    """The database's refusal of the statement; a savepoint keeps the test's transaction usable."""
    with pytest.raises(DatabaseError) as error, transaction.atomic():
        execute(sql, params or [])
    return str(error.value)


def later_events(count: int) -> list[AuditEvent]:
    """Events no checkpoint is made for at once (not consents, withdrawals or deletions)."""
    return [record(action="link.opened", actor=Actor.person(42)) for _ in range(count)]


# --- The head only moves forward ----------------------------------------------------------------


def test_the_database_refuses_to_rewind_delete_or_misdirect_the_head(events):
    rewind = "UPDATE ledger_ledgerhead SET seq = 3, hash = %s"
    assert "forward-only" in refused(rewind, [events[2].hash])
    assert "forward-only" in refused("DELETE FROM ledger_ledgerhead")
    assert "forward-only" in refused("UPDATE ledger_ledgerhead SET hash = %s", ["f" * 64])
    # Forward, but to an event that isn't stored with that hash.
    assert "forward-only" in refused("UPDATE ledger_ledgerhead SET seq = 9, hash = %s", ["f" * 64])
    assert LedgerHead.objects.get().seq == 5
    record(action="person.updated", actor=Actor.system())  # appending still moves it
    assert LedgerHead.objects.get().seq == 6


def test_a_head_can_only_start_empty_before_the_first_event(events):
    with triggers_dropped():
        execute("DELETE FROM ledger_ledgerhead")
    insert = "INSERT INTO ledger_ledgerhead (id, seq, hash) VALUES (1, %s, %s)"
    assert "forward-only" in refused(insert, [5, events[4].hash])
    if connection.vendor == "sqlite":  # where INSERT OR REPLACE could otherwise reset it
        assert "forward-only" in refused(insert, [0, GENESIS_HASH])


@on_sqlite
def test_sqlite_refuses_insert_or_replace_over_a_stored_row(events):
    """REPLACE deletes the row it collides with without firing delete triggers."""
    write_checkpoint()
    assert "forward-only" in refused(
        "INSERT OR REPLACE INTO ledger_ledgerhead (id, seq, hash) VALUES (1, 0, %s)", [GENESIS_HASH]
    )
    assert "append-only" in refused(
        "INSERT OR REPLACE INTO ledger_auditevent SELECT * FROM ledger_auditevent WHERE seq = 2"
    )
    assert "append-only" in refused(
        "INSERT OR REPLACE INTO ledger_ledgercheckpoint "
        "(id, seq, head_hash, signature, key_fingerprint, created_at) "
        "SELECT id, seq, 'x', signature, key_fingerprint, created_at FROM ledger_ledgercheckpoint"
    )
    assert verify().startswith("OK: 5 events")


# --- The tamper cases --------------------------------------------------------------------


def test_cutting_the_events_after_the_newest_checkpoint_and_rewinding_the_head(events):
    write_checkpoint()
    later = later_events(3)
    cut: tuple[str, tuple[str, list[object]]] = (
        "DELETE FROM ledger_auditevent WHERE seq > 6",
        ("UPDATE ledger_ledgerhead SET seq = 6, hash = %s", [later[0].hash]),
    )
    # The portal's own role can't: the head refuses to go back.
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(cut[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(*cut[1])
    # Whoever drops the triggers can; then the events left after the checkpoint go stale.
    tamper(*cut)
    assert verify().startswith("OK: 6 events")  # within the checkpoint interval: unseen
    interval = 2 * tasks.settings.AUDIT_CHECKPOINT_INTERVAL.total_seconds()
    stale = verify_ledger(
        keys=[signing_key().public_key()],
        as_of=timezone.now() + timedelta(seconds=interval + 1),
    )
    assert str(stale.problems[0]).startswith(
        "the newest signed checkpoint (seq 5, "
    ) and "but events 6–6 came after it" in str(stale.problems[0])


def test_a_cut_after_a_checkpoint_the_database_lost_is_named_by_the_witness_file(events, tmp_path):
    write_checkpoint()
    later = later_events(3)
    kept = tmp_path / "checkpoint-8.json"
    newest = write_checkpoint()
    assert newest is not None
    kept.write_text(json.dumps(statement(newest)))
    # Everything since checkpoint 5 goes, checkpoint 8 with it, and the head is rewound.
    tamper(
        "DELETE FROM ledger_auditevent WHERE seq > 5",
        "DELETE FROM ledger_ledgercheckpoint WHERE seq = 8",
        ("UPDATE ledger_ledgerhead SET seq = 5, hash = %s", [events[4].hash]),
    )
    assert later and verify().startswith("OK: 5 events")  # nothing inside shows it
    output = verify("--expect", str(kept))
    assert output.startswith(
        "FAILED BROKEN: sequence gap after 5: the chain ends there, "
        "but the witness file checkpoint-8.json names event 8"
    )
    assert "a checkpoint at seq 8 that the database no longer holds" in output


def test_rehashing_everything_and_deleting_every_checkpoint(events):
    write_checkpoint()
    prev_hash = GENESIS_HASH
    statements: list[tuple[str, list[object]]] = []
    for event in events:
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        fields.update(prev_hash=prev_hash, actor_id="666")
        prev_hash = event_hash(fields)
        statements.append(
            (
                "UPDATE ledger_auditevent SET actor_id = '666', prev_hash = %s, hash = %s "
                "WHERE seq = %s",
                [fields["prev_hash"], prev_hash, event.seq],
            )
        )
    tamper(
        *statements,
        "DELETE FROM ledger_ledgercheckpoint",
        ("UPDATE ledger_ledgerhead SET hash = %s", [prev_hash]),
    )
    assert verify().startswith("FAILED BROKEN: no signed checkpoint vouches for the 5 events")


# --- Checkpoints keep coming ---------------------------------------------------------------------


def test_events_after_the_newest_checkpoint_are_fine_until_twice_the_interval(events, settings):
    settings.AUDIT_CHECKPOINT_INTERVAL = timedelta(seconds=30)
    checkpoint = write_checkpoint()
    assert checkpoint is not None
    later_events(2)
    keys = [signing_key().public_key()]
    soon = checkpoint.created_at + timedelta(seconds=59)
    assert verify_ledger(keys=keys, as_of=soon).ok
    late = verify_ledger(keys=keys, as_of=checkpoint.created_at + timedelta(seconds=61))
    assert [str(problem) for problem in late.problems] == [
        f"the newest signed checkpoint (seq 5, {format_instant(checkpoint.created_at)}) is older "
        "than twice the checkpoint interval (60 s), but events 6–7 came after it: checkpoints "
        "have stopped (is beat running?), or the events after it were rewritten"
    ]
    write_checkpoint()
    assert verify_ledger(keys=keys, as_of=checkpoint.created_at + timedelta(days=9)).ok


def test_the_command_judges_a_backup_as_of_its_stamp(events):
    checkpoint = write_checkpoint()
    later_events(1)
    assert checkpoint is not None
    stamp = (checkpoint.created_at + timedelta(seconds=5)).strftime("%Y%m%dT%H%M%SZ")
    assert verify("--as-of", stamp).startswith("OK: 6 events")
    much_later = (checkpoint.created_at + timedelta(hours=1)).isoformat()
    assert "the newest signed checkpoint (seq 5" in verify("--as-of", much_later)


def test_the_default_interval_catches_a_cut_within_a_minute(settings):
    from portal import settings as portal_settings

    assert timedelta(minutes=1) >= 2 * portal_settings.AUDIT_CHECKPOINT_INTERVAL
    assert portal_settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]["schedule"] == (
        portal_settings.AUDIT_CHECKPOINT_INTERVAL
    )


@pytest.mark.parametrize(
    "action",
    ["consent.given", "consent.withdrawn", "asset.deleted", "destruction.completed",
     "asset.local_copy_destroyed", "group.deleted", "retention.applied"],
)  # fmt: skip
def test_consent_withdrawal_and_deletion_events_are_signed_once_committed(
    action, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.write_checkpoint, "delay", tasks.write_checkpoint)
    record(action="person.created", actor=Actor.system())
    with django_capture_on_commit_callbacks(execute=False) as queued:
        with transaction.atomic():
            event = record(action=action, actor=Actor.person(1))
        assert not LedgerCheckpoint.objects.exists()  # not before the commit
    assert len(queued) == 1
    queued[0]()
    assert LedgerCheckpoint.objects.get().seq == event.seq


def test_other_events_wait_for_the_periodic_checkpoint(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        record(action="link.opened", actor=Actor.person(1))
        record(action="consent_text.viewed", actor=Actor.person(1))
    assert queued == []


def test_a_broker_down_leaves_the_checkpoint_to_the_periodic_one(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.write_checkpoint, "delay", refuse)
    with (
        caplog.at_level(logging.WARNING, "portal.queueing"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        record(action="consent.given", actor=Actor.person(1))
    assert AuditEvent.objects.count() == 1
    assert "the periodic audit-checkpoint will pick it up" in caplog.text


def test_witnesses_get_one_checkpoint_per_witness_interval(events, settings, monkeypatch):
    settings.AUDIT_WITNESS_EMAILS = ["auditor@example.org"]
    sent: list[int] = []
    monkeypatch.setattr(tasks.send_to_witnesses, "delay", sent.append)
    tasks.write_checkpoint()
    later_events(1)
    tasks.write_checkpoint()  # same hour: the witnesses already have a recent one
    assert len(sent) == 1 and LedgerCheckpoint.objects.count() == 2
    settings.AUDIT_WITNESS_INTERVAL = timedelta(microseconds=1)
    later_events(1)
    tasks.write_checkpoint()
    assert len(sent) == 2 and mail.outbox == []


# --- Triggers no session can switch off (PostgreSQL) --------------------------------------------


@on_postgres
def test_the_runtime_role_may_not_switch_triggers_off_nor_touch_the_head(events):
    execute(f"CREATE ROLE {ROLE}")
    for statement_sql in grant_statements(connection, role=ROLE):
        execute(statement_sql)
    execute(f"SET LOCAL ROLE {ROLE}")
    assert can_change_evidence(connection) == []
    assert "permission denied" in refused("SET session_replication_role = replica")
    assert "permission denied" in refused("DELETE FROM ledger_ledgerhead")
    assert "permission denied" in refused("TRUNCATE ledger_ledgerhead")
    assert "forward-only" in refused("UPDATE ledger_ledgerhead SET seq = 1")
    record(action="person.updated", actor=Actor.system())
    execute("RESET ROLE")


@on_postgres
def test_a_runtime_role_granted_the_setting_is_named(events):
    execute(f"CREATE ROLE {ROLE}")
    for statement_sql in grant_statements(connection, role=ROLE):
        execute(statement_sql)
    execute(f"GRANT SET ON PARAMETER session_replication_role TO {ROLE}")
    execute(f"SET LOCAL ROLE {ROLE}")
    assert can_change_evidence(connection) == ["may SET session_replication_role"]
    execute("RESET ROLE")
    execute(f"REVOKE SET ON PARAMETER session_replication_role FROM {ROLE}")


@on_postgres
def test_replica_mode_does_not_switch_the_triggers_off(events):
    """Triggers fire ALWAYS: even a superuser's replica session can't slip past them."""
    execute("SET LOCAL session_replication_role = replica")
    assert "append-only" in refused("DELETE FROM ledger_auditevent WHERE seq = 5")
    assert "forward-only" in refused("UPDATE ledger_ledgerhead SET seq = 1")
    execute("SET LOCAL session_replication_role = origin")


@on_postgres
def test_a_trigger_that_fires_only_in_origin_mode_is_reported(events):
    write_checkpoint()
    execute("ALTER TABLE ledger_auditevent ENABLE TRIGGER ledger_auditevent_append_only")
    try:
        assert triggers.missing(connection) == ["ledger_auditevent_append_only"]
        assert verify().startswith(
            "FAILED BROKEN: ledger trigger ledger_auditevent_append_only is missing or disabled"
        )
    finally:
        execute("ALTER TABLE ledger_auditevent ENABLE ALWAYS TRIGGER ledger_auditevent_append_only")


# --- The fast hash is the canonical hash ---------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"person_id": None, "payload": {}},
        {"actor_label": 'quote " backslash \\ tab \t nul-free \x01 \u2028 Zoë 😀'},
        {"payload": {"z": [1, {"b": None, "a": True}], "a": "ü\n", "n": -(2**53 - 1)}},
        {"user_agent": "", "ip": "2001:db8::1", "subject_type": "", "subject_id": ""},
    ],
)
def test_the_written_out_canonical_text_is_the_canonical_bytes(changes):
    from datetime import UTC, datetime

    fields: dict[str, object] = {
        "seq": 12,
        "prev_hash": "a" * 64,
        "occurred_at": datetime(2026, 1, 31, 9, 5, 0, 7, tzinfo=UTC),
        "actor_kind": "person",
        "actor_id": "42",
        "actor_label": "",
        "action": "consent.given",
        "subject_type": "verification.consent",
        "subject_id": "7",
        "person_id": 42,
        "payload": {"text_sha256": "b" * 64},
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
    } | changes
    from ledger.chain import canonical_json

    values: list[Any] = [fields[name] for name in HASHED_FIELDS]
    values[2], values[10] = format_instant(values[2]), canonical_json(values[10])
    text = canonical_text(*values)
    assert text.encode() == canonical_bytes(fields)


def test_a_payload_stored_in_another_spelling_still_verifies(events):
    write_checkpoint()
    tamper('UPDATE ledger_auditevent SET payload = \'{ "step" : 2, "note":"Zoë" }\' WHERE seq = 2')
    assert verify().startswith("OK: 5 events")


@on_sqlite
def test_an_unreadable_instant_is_a_mismatch(events):
    write_checkpoint()
    tamper("UPDATE ledger_auditevent SET occurred_at = 'yesterday' WHERE seq = 2")
    output = verify()
    assert output.startswith("FAILED BROKEN: event 2: hash mismatch")
    assert "recomputed unreadable columns" in output


def test_an_event_on_a_whole_second_verifies(events):
    """Django stores such an instant without a fraction; the hash always has six digits."""
    event = AuditEvent.objects.get(seq=5)
    moment = event.occurred_at.replace(microsecond=0)
    fields = {name: getattr(event, name) for name in HASHED_FIELDS} | {"occurred_at": moment}
    tamper(
        (
            "UPDATE ledger_auditevent SET occurred_at = %s, hash = %s WHERE seq = 5",
            [connection.ops.adapt_datetimefield_value(moment), event_hash(fields)],
        ),
        ("UPDATE ledger_ledgerhead SET hash = %s", [event_hash(fields)]),
    )
    write_checkpoint()
    assert verify().startswith("OK: 5 events")


@pytest.mark.parametrize(
    "label",
    ["plain", 'quote " backslash \\ slash /', "tab \t newline \n \x01 \x1f \x7f", "Zoë 😀 \u2028"],
)
def test_the_database_writes_the_canonical_document_itself(label):
    """The fast path, not the fallback: the database's document is byte for byte the canonical
    one (on PostgreSQL around the payload, which Python writes)."""
    from ledger.chain import canonical_json
    from ledger.verify import POSTGRES_DOCUMENT, SQLITE_DOCUMENT

    event = record(
        action="consent.given",
        actor=Actor(ActorKind.STAFF, "7", label),
        person_id=None,
        payload={"note": label, "n": [1, None, True], "z": {"b": "x", "a": "y"}},
    )
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {SQLITE_DOCUMENT if sqlite else POSTGRES_DOCUMENT} "  # noqa: S608
            "FROM ledger_auditevent WHERE seq = %s",
            [event.seq],
        )
        row = cursor.fetchone()
    document = row[0] if sqlite else row[0] + canonical_json(json.loads(row[1])) + row[2]
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    assert document.encode() == canonical_bytes(fields)


@pytest.mark.parametrize("chunk_size", [1, 4, 14, 100])
def test_the_walk_reads_exactly_the_range_asked_in_any_chunk_size(chunk_size):
    from ledger.testing import append_synthetic
    from ledger.verify import stored_hashes

    append_synthetic(30)
    rows = list(stored_hashes(after=3, upto=17, chunk_size=chunk_size))
    assert [row[0] for row in rows] == list(range(4, 18))
    assert all(stored == recomputed for _, _, stored, recomputed in rows)
    assert [row[0] for row in stored_hashes(after=28, chunk_size=chunk_size)] == [29, 30]

"""`verify_audit` against a tampered ledger. Tampering needs the triggers dropped first, as a
database superuser could; each scenario must be detected and the first broken event named."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ledger import triggers
from ledger.chain import HASHED_FIELDS, event_hash
from ledger.checkpoints import write_checkpoint
from ledger.models import AuditEvent
from ledger.services import Actor, record
from ledger.testing import append_synthetic, execute, triggers_dropped
from ledger.verify import ChainWalker, Report

pytestmark = pytest.mark.django_db


def verify(*args: str) -> str:
    """The command's output when it succeeds; the failure text (and exit code 1) otherwise."""
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as error:
        assert error.returncode == 1
        return f"FAILED {error}"
    return out.getvalue()


def tamper(*statements: str | tuple[str, list[object]]) -> None:
    with triggers_dropped():
        for statement in statements:
            sql, params = (statement, []) if isinstance(statement, str) else statement
            execute(sql, params)


def test_an_empty_ledger_verifies():
    assert verify().startswith("OK: 0 events")


def test_an_intact_ledger_verifies_in_one_line(events):
    write_checkpoint()
    output = verify("--chunk-size", "2")
    assert output.startswith(f"OK: 5 events, head seq 5 hash {events[-1].hash}")
    assert output.count("\n") == 1


def test_it_names_an_event_with_a_changed_byte(events):
    tamper("UPDATE ledger_auditevent SET subject_id = '43' WHERE seq = 3")
    assert verify().startswith("FAILED BROKEN: event 3: hash mismatch")


def test_it_names_an_event_whose_payload_changed(events):
    tamper("UPDATE ledger_auditevent SET payload = '{\"step\": 4}' WHERE seq = 2")
    assert verify().startswith("FAILED BROKEN: event 2: hash mismatch")


def test_it_names_a_deleted_event(events):
    tamper("DELETE FROM ledger_auditevent WHERE seq = 3")
    assert verify().startswith("FAILED BROKEN: sequence gap after 2: event 3 missing")


def test_it_names_the_first_of_two_swapped_events(events):
    tamper(
        "UPDATE ledger_auditevent SET seq = 1000 WHERE seq = 2",
        "UPDATE ledger_auditevent SET seq = 2 WHERE seq = 4",
        "UPDATE ledger_auditevent SET seq = 4 WHERE seq = 1000",
    )
    assert verify().startswith("FAILED BROKEN: event 2: hash mismatch")


def test_it_names_a_rehashed_event_by_its_broken_link(events):
    """Someone who changes an event and fixes its hash still breaks the next link."""
    fields = {name: getattr(events[2], name) for name in HASHED_FIELDS} | {"subject_id": "43"}
    tamper(
        (
            "UPDATE ledger_auditevent SET subject_id = '43', hash = %s WHERE seq = 3",
            [event_hash(fields)],
        )
    )
    assert verify().startswith("FAILED BROKEN: event 4: prev_hash does not match event 3")


def test_it_notices_a_cut_tail_from_the_head_table(events):
    tamper("DELETE FROM ledger_auditevent WHERE seq > 3")
    assert verify().startswith(
        "FAILED BROKEN: sequence gap after 3: the chain ends there, "
        "but the head table names event 5"
    )


def test_it_notices_a_cut_tail_from_a_checkpoint_even_with_the_head_rewound(events):
    write_checkpoint()
    tamper(
        "DELETE FROM ledger_auditevent WHERE seq > 3",
        ("UPDATE ledger_ledgerhead SET seq = 3, hash = %s", [events[2].hash]),
    )
    assert verify().startswith(
        "FAILED BROKEN: sequence gap after 3: the chain ends there, "
        "but the checkpoint at seq 5 names event 5"
    )


def rewrite_history_from(seq: int, events: list[AuditEvent]) -> None:
    """What someone who knows the format can do: change an event and re-hash everything after."""
    prev_hash = events[seq - 2].hash
    statements: list[tuple[str, list[object]]] = []
    for event in events[seq - 1 :]:
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        fields.update(prev_hash=prev_hash)
        if event.seq == seq:
            fields["actor_id"] = "666"
        prev_hash = event_hash(fields)
        statements.append(
            (
                "UPDATE ledger_auditevent SET actor_id = %s, prev_hash = %s, hash = %s "
                "WHERE seq = %s",
                [fields["actor_id"], fields["prev_hash"], prev_hash, event.seq],
            )
        )
    tamper(*statements, ("UPDATE ledger_ledgerhead SET hash = %s", [prev_hash]))


def test_only_a_checkpoint_or_a_kept_digest_reveals_rewritten_history(events):
    write_checkpoint()
    rewrite_history_from(2, events)
    assert verify().startswith(
        "FAILED BROKEN: event 5: hash differs from the one in the checkpoint at seq 5"
    )
    tamper("DELETE FROM ledger_ledgercheckpoint")
    assert verify().startswith("FAILED BROKEN: no signed checkpoint vouches for the 5 events")
    assert verify("--expect", f"5:{events[4].hash}").startswith(
        "FAILED BROKEN: event 5: hash differs from the one in --expect 5"
    )


def test_it_notices_a_head_table_that_disagrees(events):
    tamper(
        "UPDATE ledger_ledgerhead SET hash = 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'"
    )
    assert verify().startswith(
        "FAILED BROKEN: event 5: hash differs from the one in the head table"
    )


def test_it_notices_a_missing_head_row(events):
    tamper("DELETE FROM ledger_ledgerhead")
    assert "the head table is empty or reset but events exist" in verify()


def test_it_notices_missing_triggers(events):
    triggers.uninstall(connection)
    output = verify()
    triggers.install(connection)
    assert output.startswith("FAILED BROKEN: ledger trigger")


def test_it_lists_later_problems_after_the_first(events):
    tamper(
        "DELETE FROM ledger_auditevent WHERE seq = 4",
        "UPDATE ledger_auditevent SET action = 'x.y' WHERE seq = 2",
    )
    output = verify()
    assert output.startswith("FAILED BROKEN: event 2: hash mismatch")
    assert "also: sequence gap after 3: event 4 missing" in output


def test_it_names_a_duplicate_seq():
    """The primary key stops duplicates; the walker still names one if the key were dropped."""
    report = Report()
    walker = ChainWalker(report)
    rows = [event_fields(1, "0" * 64), event_fields(2, "placeholder")]
    rows[1]["prev_hash"] = event_hash(rows[0])
    for seq, fields in [(1, rows[0]), (2, rows[1]), (2, rows[1])]:
        stored = event_hash(fields)
        walker.feed(seq, str(fields["prev_hash"]), stored, stored)
    walker.finish()
    assert [str(problem) for problem in report.problems] == [
        "event 2: duplicate (seq 2 appears again)"
    ]


def event_fields(seq: int, prev_hash: str) -> dict[str, object]:
    return {
        "seq": seq,
        "prev_hash": prev_hash,
        "occurred_at": datetime(2025, 1, 1, tzinfo=UTC),
        "actor_kind": "system",
        "actor_id": "",
        "actor_label": "",
        "action": "test.event",
        "subject_type": "",
        "subject_id": "",
        "person_id": None,
        "payload": {},
        "ip": "",
        "user_agent": "",
    }


@pytest.mark.usefixtures("ledger_transactional")
def test_on_postgres_it_reads_one_snapshot_and_notices_a_head_left_behind():
    events = [record(action="consent.given", actor=Actor.person(1)) for _ in range(3)]
    write_checkpoint()
    tamper(("UPDATE ledger_ledgerhead SET seq = 2, hash = %s", [events[1].hash]))
    output = verify()
    if connection.vendor == "postgresql":
        assert output.startswith(
            "FAILED BROKEN: the head table names event 2, but the chain continues to 3"
        )
    else:
        # SQLite reads without a snapshot: a writer may append after the head was read.
        assert output.startswith("OK: 3 events")


def test_the_benchmarks_bulk_chain_verifies_and_record_continues_it():
    append_synthetic(30, batch_size=7)
    record(action="consent.given", actor=Actor.person(1))
    write_checkpoint()
    assert verify("--chunk-size", "4").startswith("OK: 31 events, head seq 31")

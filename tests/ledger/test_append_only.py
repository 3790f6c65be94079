"""The database itself refuses to change or remove ledger rows, whatever the client."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ledger import triggers
from ledger.models import LedgerCheckpoint
from ledger.testing import execute, triggers_dropped

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoint(db):
    return LedgerCheckpoint.objects.create(
        seq=1,
        head_hash="a" * 64,
        signature="b" * 128,
        key_fingerprint="c" * 64,
        created_at=timezone.now(),
    )


def refused(sql: str) -> str:
    # A savepoint, so PostgreSQL's aborted statement doesn't poison the test's transaction.
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        execute(sql)
    return str(error.value)


@pytest.mark.usefixtures("events")
def test_the_database_refuses_to_update_an_event():
    assert "append-only" in refused("UPDATE ledger_auditevent SET actor_label = 'x' WHERE seq = 2")
    assert "append-only" in refused("UPDATE ledger_auditevent SET action = action")


@pytest.mark.usefixtures("events")
def test_the_database_refuses_to_delete_an_event():
    assert "append-only" in refused("DELETE FROM ledger_auditevent WHERE seq = 5")
    assert "append-only" in refused("DELETE FROM ledger_auditevent")


@pytest.mark.usefixtures("checkpoint")
def test_the_database_refuses_to_change_or_delete_a_checkpoint():
    assert "append-only" in refused("UPDATE ledger_ledgercheckpoint SET head_hash = 'x'")
    assert "append-only" in refused("DELETE FROM ledger_ledgercheckpoint")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
@pytest.mark.usefixtures("events", "checkpoint")
def test_postgres_refuses_to_truncate_a_ledger_table_with_rows():
    assert "append-only" in refused("TRUNCATE ledger_auditevent CASCADE")
    assert "append-only" in refused("TRUNCATE ledger_ledgercheckpoint")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
def test_postgres_lets_an_empty_ledger_table_be_truncated():
    # Django's test runner truncates every table after each transactional test.
    execute("TRUNCATE ledger_auditevent, ledger_ledgercheckpoint")


def test_every_trigger_is_installed():
    assert triggers.missing(connection) == []


@pytest.mark.usefixtures("events")
def test_dropping_the_triggers_is_what_it_takes_and_is_noticed():
    with triggers_dropped():
        assert len(triggers.missing(connection)) == (9 if connection.vendor == "sqlite" else 6)
        assert execute("UPDATE ledger_auditevent SET actor_label = 'x' WHERE seq = 2") == 1
    assert triggers.missing(connection) == []

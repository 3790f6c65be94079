import pytest
from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper


@pytest.fixture
def threaded_db(ledger_transactional):
    """A database that many threads write at once, each on its own connection, as web and
    worker processes do: PostgreSQL, or the SQLite file the test settings name."""
    default = connections["default"]
    if isinstance(default, SQLiteWrapper) and default.is_in_memory_db():
        # Shared-cache memory databases fail a second writer at once ("database table is
        # locked") instead of waiting on the busy timeout like the files the portal runs on.
        pytest.skip("concurrent writers need a file-backed SQLite test database")


@pytest.fixture
def events(db):
    """Five recorded events, seq 1-5, the kind a consent flow writes."""
    from ledger.services import Actor, record

    actions = [
        "person.created",
        "verification.invited",
        "consent.given",
        "verification.verified",
        "asset.forwarded",
    ]
    return [
        record(action=action, actor=Actor.person(42), payload={"step": step, "note": "Zoë"})
        for step, action in enumerate(actions, start=1)
    ]

"""A runtime role that appends to the ledger but can't rewrite it, even with the triggers gone."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from ledger.grants import can_change_evidence, grant_statements
from ledger.models import AuditEvent
from ledger.services import Actor, record
from ledger.testing import execute, triggers_dropped
from portal.checks import evidence_role_check

pytestmark = pytest.mark.django_db
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="roles and grants exist on PostgreSQL only"
)
ROLE = "sitter_runtime_test"


def refused(sql: str) -> bool:
    """Whether the statement fails; a savepoint keeps the test's transaction usable."""
    try:
        with transaction.atomic():
            execute(sql)
    except DatabaseError:
        return True
    return False


@on_postgres
def test_the_runtime_role_appends_but_cannot_change_or_unprotect_the_ledger(events):
    # Roles are transactional on PostgreSQL: this one goes with the test's rollback.
    execute(f"CREATE ROLE {ROLE}")
    for statement in grant_statements(connection, role=ROLE):
        execute(statement)
    with triggers_dropped():  # what the owner could do; the runtime role still may not
        execute(f"SET LOCAL ROLE {ROLE}")
        assert can_change_evidence(connection) == []
        record(action="person.created", actor=Actor.system())  # an INSERT and the head's UPDATE
        assert AuditEvent.objects.count() == len(events) + 1
        assert refused("DELETE FROM ledger_auditevent")
        assert refused("UPDATE ledger_auditevent SET action = 'x'")
        assert refused("TRUNCATE ledger_ledgercheckpoint")
        assert refused("ALTER TABLE ledger_auditevent DISABLE TRIGGER ALL")
        execute("RESET ROLE")


@on_postgres
def test_a_superuser_connection_is_named_by_the_deploy_check():
    assert can_change_evidence(connection) == ["is a superuser"]
    (warning,) = evidence_role_check(databases=["default"])
    assert warning.id == "sitter.W003" and "superuser" in warning.msg


@on_postgres
def test_the_command_prints_the_statements_for_the_owner_to_run():
    out = StringIO()
    call_command("ledger_grants", ROLE, stdout=out)
    text = out.getvalue()
    assert 'REVOKE UPDATE, DELETE, TRUNCATE ON "public"."ledger_auditevent"' in text
    assert f'TO "{ROLE}"' in text


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite answer")
def test_on_sqlite_the_command_explains_there_are_no_roles():
    assert can_change_evidence(connection) == []
    assert evidence_role_check(databases=["default"]) == []
    with pytest.raises(CommandError, match="Only PostgreSQL has roles"):
        call_command("ledger_grants", ROLE)

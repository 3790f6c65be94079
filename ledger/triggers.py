"""Database triggers that make the ledger tables append-only and its head forward-only.

Installed by migration 0002 and reinstalled by 0003 (changing this SQL needs a new migration that
reinstalls it). The events and checkpoints refuse UPDATE and DELETE. The head row, which every
append moves, refuses DELETE, and an UPDATE only moves it forward to an event that is stored with
the hash it names; it is created empty (seq 0, the genesis hash). So the
application, or anyone using its database role, can't cut the tail and rewind the head.

The triggers can't stop the tables' owner or a superuser, who may drop them. That is what the hash
chain and the signed checkpoints are for: tampering by such a person is detected by
`verify_audit` (docs/operations.md says what it can and cannot see). Deployments run the web and
worker processes as a role that owns nothing and lacks UPDATE, DELETE and TRUNCATE grants on the
evidence: see `ledger.grants`.

PostgreSQL: the triggers are ENABLE ALWAYS, so `SET session_replication_role = replica` (itself
reserved to superusers) doesn't switch them off. On a TRUNCATE of an empty table they let it
through: Django's test runner truncates every table after each transactional test, and emptying
what is already empty destroys no evidence.

SQLite: no TRUNCATE, and "DELETE FROM t" fires the row triggers. `INSERT OR REPLACE` deletes the
row it collides with without firing delete triggers, so an INSERT that collides with a stored row
is refused too, and a head row is only created while there are no events. (PostgreSQL's upsert
fires the UPDATE triggers.) A later migration that alters these tables rebuilds them and drops the triggers
with the old table; `verify_audit` reports missing triggers, and such a migration must call
`install`.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import BaseDatabaseWrapper

from ledger.chain import GENESIS_HASH

EVENTS, CHECKPOINTS, HEAD = "ledger_auditevent", "ledger_ledgercheckpoint", "ledger_ledgerhead"
# Append-only: rows are never changed or removed.
TABLES = (EVENTS, CHECKPOINTS)
PROTECTED_TABLES = (*TABLES, HEAD)

_POSTGRES_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        has_rows boolean;
    BEGIN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
            INTO has_rows;
        IF has_rows THEN
            RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION ledger_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'ledger_ledgerhead is forward-only: DELETE refused'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'INSERT' THEN
            IF NEW.seq <> 0 OR NEW.hash <> '{GENESIS_HASH}' THEN
                RAISE EXCEPTION 'ledger_ledgerhead is forward-only: it starts empty, before the '
                    'first event' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END IF;
        IF NEW.id <> OLD.id OR NEW.seq <= OLD.seq OR NOT EXISTS (
                SELECT 1 FROM {EVENTS} WHERE seq = NEW.seq AND hash = NEW.hash) THEN
            RAISE EXCEPTION 'ledger_ledgerhead is forward-only: it moves only forward, to a '
                'stored event' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,  # noqa: S608 (constants, no input)
]

_SQLITE_REFUSE = "BEGIN SELECT RAISE(ABORT, '{table} is {kind}: {operation} refused'); END"


def _postgres_triggers() -> list[tuple[str, str, str]]:
    """(name, table, the CREATE TRIGGER statement)."""
    found = []
    for table in TABLES:
        found += [
            (
                f"{table}_append_only",
                table,
                f"BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
            ),
            (
                f"{table}_no_truncate",
                table,
                f"BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate()",
            ),
        ]
    found += [
        (
            f"{HEAD}_forward_only",
            HEAD,
            f"BEFORE INSERT OR UPDATE OR DELETE ON {HEAD} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_head_forward_only()",
        ),
        (
            f"{HEAD}_no_truncate",
            HEAD,
            f"BEFORE TRUNCATE ON {HEAD} FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate()",
        ),
    ]
    return [(name, table, f"CREATE TRIGGER {name} {body}") for name, table, body in found]


def _sqlite_triggers() -> list[tuple[str, str, str]]:
    found = []
    collides = {
        EVENTS: "EXISTS (SELECT 1 FROM ledger_auditevent WHERE seq = NEW.seq)",
        CHECKPOINTS: (
            "EXISTS (SELECT 1 FROM ledger_ledgercheckpoint WHERE id = NEW.id OR seq = NEW.seq)"
        ),
    }
    for table in TABLES:
        for suffix, operation, when in (
            ("no_update", "UPDATE", ""),
            ("no_delete", "DELETE", ""),
            ("no_replace", "INSERT", f" WHEN {collides[table]}"),
        ):
            refuse = _SQLITE_REFUSE.format(table=table, kind="append-only", operation=operation)
            found.append(
                (f"{table}_{suffix}", table, f"BEFORE {operation} ON {table}{when} {refuse}")
            )
    head = [
        ("no_delete", "DELETE", ""),
        (
            "forward_only",
            "UPDATE",
            " WHEN NEW.id <> OLD.id OR NEW.seq <= OLD.seq OR NOT EXISTS ("  # noqa: S608
            f"SELECT 1 FROM {EVENTS} WHERE seq = NEW.seq AND hash = NEW.hash)",
        ),
        (
            "starts_empty",
            "INSERT",
            f" WHEN NEW.seq <> 0 OR NEW.hash <> '{GENESIS_HASH}' "  # noqa: S608
            f"OR EXISTS (SELECT 1 FROM {EVENTS})",
        ),
    ]
    for suffix, operation, when in head:
        refuse = _SQLITE_REFUSE.format(table=HEAD, kind="forward-only", operation=operation)
        found.append((f"{HEAD}_{suffix}", HEAD, f"BEFORE {operation} ON {HEAD}{when} {refuse}"))
    return [(name, table, f"CREATE TRIGGER {name} {body}") for name, table, body in found]


def _triggers(vendor: str) -> list[tuple[str, str, str]]:
    if vendor == "postgresql":
        return _postgres_triggers()
    if vendor == "sqlite":
        return _sqlite_triggers()
    raise ImproperlyConfigured(f"the ledger has no append-only triggers for {vendor}")


def install(connection: BaseDatabaseWrapper) -> None:
    vendor = connection.vendor
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            for statement in _POSTGRES_FUNCTIONS:
                cursor.execute(statement)
        for name, table, statement in _triggers(vendor):
            cursor.execute(statement)
            if vendor == "postgresql":
                # Fires whatever session_replication_role says.
                cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")


def uninstall(connection: BaseDatabaseWrapper) -> None:
    vendor = connection.vendor
    with connection.cursor() as cursor:
        for name, table, _ in _triggers(vendor):
            if vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        if vendor == "postgresql":
            for function in ("ledger_refuse_change", "ledger_refuse_truncate"):
                cursor.execute(f"DROP FUNCTION IF EXISTS {function}()")
            cursor.execute("DROP FUNCTION IF EXISTS ledger_head_forward_only()")


def missing(connection: BaseDatabaseWrapper) -> list[str]:
    """Names of protecting triggers that should exist on this database but don't, or that don't
    fire always (disabled, or switched off by session_replication_role)."""
    expected = [name for name, _, _ in _triggers(connection.vendor)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'A' "
                "AND tgrelid = ANY(%s::regclass[])",
                [list(PROTECTED_TABLES)],
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected if name not in present]

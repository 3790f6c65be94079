"""Database triggers that make the ledger tables append-only.

Installed by migration 0002 (changing this SQL needs a new migration that reinstalls it). They
stop the application and anyone using its database role by mistake; they cannot stop the table's
owner or a superuser, who may drop them. That is what the hash chain and the signed checkpoints
are for: tampering by such a person is still detected by `verify_audit`. (Deployments that want
more run the web and worker processes as a role without UPDATE, DELETE and TRUNCATE grants, which
owns nothing: see `ledger.grants`.)

SQLite has no TRUNCATE, and its "DELETE FROM t" fires the row triggers. On PostgreSQL a TRUNCATE of
an empty table is let through: Django's test runner truncates every table after each transactional
test, and emptying what is already empty destroys no evidence.

On SQLite, a later migration that alters these tables rebuilds them and drops the triggers with the
old table; `verify_audit` reports missing triggers, and such a migration must call `install`.
"""

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import BaseDatabaseWrapper

TABLES = ("ledger_auditevent", "ledger_ledgercheckpoint")

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
]


def _names(table: str, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"{table}_append_only", f"{table}_no_truncate"]
    return [f"{table}_no_update", f"{table}_no_delete"]


def _create_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = list(_POSTGRES_FUNCTIONS)
        for table in TABLES:
            row, truncate = _names(table, vendor)
            statements += [
                f"CREATE TRIGGER {row} BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
                f"CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate()",
            ]
        return statements
    if vendor == "sqlite":
        statements = []
        for table in TABLES:
            for name, operation in zip(_names(table, vendor), ("UPDATE", "DELETE"), strict=True):
                statements.append(
                    f"CREATE TRIGGER {name} BEFORE {operation} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
                )
        return statements
    raise ImproperlyConfigured(f"the ledger has no append-only triggers for {vendor}")


def _drop_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {name} ON {table}"
            for table in TABLES
            for name in _names(table, vendor)
        ] + [
            "DROP FUNCTION IF EXISTS ledger_refuse_change()",
            "DROP FUNCTION IF EXISTS ledger_refuse_truncate()",
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for table in TABLES for name in _names(table, vendor)]


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in _create_sql(connection.vendor):
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in _drop_sql(connection.vendor):
            cursor.execute(statement)


def missing(connection: BaseDatabaseWrapper) -> list[str]:
    """Names of append-only triggers that should exist on this database but don't."""
    expected = [name for table in TABLES for name in _names(table, connection.vendor)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
                "AND tgrelid = ANY(%s::regclass[])",
                [list(TABLES)],
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected if name not in present]

"""A database role for the running portal that can add evidence but never change it (PostgreSQL).

The append-only triggers stop the application, but not the tables' owner, who may drop them. When
the web and worker processes connect as the owner (or a superuser), a flaw that lets someone run
SQL through them could do the same. So a deployment runs migrations as the owner and everything
else as a second role that:

- reads and writes the portal's tables, but only reads and inserts the ledger's events and
  checkpoints (no UPDATE, DELETE or TRUNCATE, whatever the triggers say), and may only move the
  head row (UPDATE, which its trigger holds to forward moves; no DELETE or TRUNCATE);
- owns nothing, so it can't drop or disable the triggers either;
- is no superuser, so it can't `SET session_replication_role` (the triggers fire always anyway).

`manage.py ledger_grants ROLE` prints (or, with --apply, runs) the statements, as the owner.
Tables added by later migrations get the same grants by default privileges, except that a new
evidence table must be added to `ledger.triggers.TABLES` (and the command run again).
"""

from django.db.backends.base.base import BaseDatabaseWrapper

from ledger.triggers import HEAD, TABLES

RUNTIME_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def grant_statements(connection: BaseDatabaseWrapper, *, role: str) -> list[str]:
    """SQL that gives `role` what the running portal needs on `connection`'s database, and no
    more on the ledger. Run it as the owner of the tables (the role that ran the migrations)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_user, current_schema()")
        database, owner, schema = cursor.fetchone()
    runtime, owner, schema = quote(role), quote(owner), quote(schema)
    ledger = ", ".join(f"{schema}.{quote(table)}" for table in TABLES)
    head = f"{schema}.{quote(HEAD)}"
    return [
        f"GRANT CONNECT ON DATABASE {quote(database)} TO {runtime}",
        f"GRANT USAGE ON SCHEMA {schema} TO {runtime}",
        f"GRANT {RUNTIME_PRIVILEGES} ON ALL TABLES IN SCHEMA {schema} TO {runtime}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {runtime}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {ledger} FROM {runtime}",
        f"REVOKE DELETE, TRUNCATE ON {head} FROM {runtime}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT {RUNTIME_PRIVILEGES} ON TABLES TO {runtime}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {runtime}",
    ]


def can_change_evidence(connection: BaseDatabaseWrapper) -> list[str]:
    """What the connected role could do to the ledger beyond reading and appending: empty when it
    can do nothing more (or the database is not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return []
    powers = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            return ["is a superuser"]
        # PostgreSQL 15 lets a superuser grant SET on a superuser-only setting to anyone.
        if connection.pg_version >= 150000:  # type: ignore[attr-defined]
            cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
            if cursor.fetchone()[0]:
                powers.append("may SET session_replication_role")
        for table in (*TABLES, HEAD):
            cursor.execute(
                "SELECT pg_has_role(current_user, tableowner, 'USAGE'), "
                "has_table_privilege(%s, 'UPDATE'), has_table_privilege(%s, 'DELETE'), "
                "has_table_privilege(%s, 'TRUNCATE') FROM pg_tables "
                "WHERE tablename = %s AND schemaname = current_schema()",
                [table, table, table, table],
            )
            row = cursor.fetchone()
            if row is None:
                continue  # not migrated yet
            owns, update, delete, truncate = row
            if owns:  # an owner may do anything, triggers included
                powers.append(f"owns {table}")
                continue
            powers += [
                f"may {verb} {table}"
                for verb, allowed in (
                    ("UPDATE", update and table != HEAD),
                    ("DELETE", delete),
                    ("TRUNCATE", truncate),
                )
                if allowed
            ]
    return powers

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from ledger.grants import grant_statements


class Command(BaseCommand):
    help = (
        "PostgreSQL: print (or run, with --apply) the grants that let ROLE run the portal while "
        "only reading and appending to the audit ledger. Run as the tables' owner, the role that "
        "runs migrations; then give the web and worker processes ROLE's DATABASE_URL."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("role", help="the existing role the web and worker processes use")
        parser.add_argument("--apply", action="store_true", help="run the statements now")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "Only PostgreSQL has roles. On SQLite, protect the database file instead: only "
                "the portal's own user may write it."
            )
        statements = grant_statements(connection, role=options["role"])
        if not options["apply"]:
            self.stdout.write(";\n".join(statements) + ";")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(f"Granted: {options['role']} now reads and appends to the ledger only.")

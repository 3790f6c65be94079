"""Re-encrypt every secret stored in the database under the newest FIELD_ENCRYPTION_KEYS key.

Rotation, step by step (docs/operations.md):
1. generate a key and put it first: FIELD_ENCRYPTION_KEYS=new,old — on every process, restart;
2. run this command (safe to run again, and while the portal runs);
3. once it reports every value readable with the newest key alone, drop the old key, restart.

Works on the raw column text, so it covers every `EncryptedTextField` of every model, and never
turns a stored value into plain text on its way through.
"""

from argparse import ArgumentParser
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from portal.crypto import EncryptedTextField, reencrypt

BATCH = 500


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary key column, column) of every encrypted field."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                pk = model._meta.pk
                assert pk is not None and pk.column and field.column
                found.append((model._meta.db_table, pk.column, field.column))
    return sorted(found)


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets (upstream credentials and tokens, authenticator app secrets) "
        "under the first key of "
        "FIELD_ENCRYPTION_KEYS, then check that the other keys are no longer needed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; report how many values still need an older key.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        newest = Fernet(settings.FIELD_ENCRYPTION_KEYS[0].strip().encode())
        older = len(settings.FIELD_ENCRYPTION_KEYS) - 1
        rotated = stale = 0
        for table, pk, column in encrypted_columns():
            if not options["check"]:
                rotated += self._rotate(table, pk, column)
            stale_here = sum(
                1 for _, token in self._rows(table, pk, column) if not _readable(newest, token)
            )
            stale += stale_here
            self.stdout.write(f"{table}.{column}: {stale_here} value(s) need an older key")
        if not options["check"]:
            self.stdout.write(f"Re-encrypted {rotated} value(s) under the newest key.")
        if stale:
            raise CommandError(
                f"{stale} stored value(s) can't be read with the newest key alone; keep the older "
                "keys" + ("" if options["check"] else " and run this command again")
            )
        hint = (
            f" The {older} older key(s) can now be removed from FIELD_ENCRYPTION_KEYS."
            if older
            else ""
        )
        self.stdout.write(
            self.style.SUCCESS("Every stored secret reads with the newest key." + hint)
        )

    def _rows(self, table: str, pk: str, column: str) -> list[tuple[Any, str]]:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote(pk)}, {quote(column)} FROM {quote(table)} "  # noqa: S608
                f"WHERE {quote(column)} <> '' ORDER BY {quote(pk)}"
            )
            return list(cursor.fetchall())

    def _rotate(self, table: str, pk: str, column: str) -> int:
        """Rewrites each value in place, in batches, each row only if it is still the text read
        (a value replaced meanwhile by a new secret is left to the writer who replaced it)."""
        quote = connection.ops.quote_name
        update = (
            f"UPDATE {quote(table)} SET {quote(column)} = %s "  # noqa: S608
            f"WHERE {quote(pk)} = %s AND {quote(column)} = %s"
        )
        rows = self._rows(table, pk, column)
        count = 0
        for start in range(0, len(rows), BATCH):
            with transaction.atomic(), connection.cursor() as cursor:
                for key, token in rows[start : start + BATCH]:
                    try:
                        fresh = reencrypt(token)
                    except InvalidToken as error:
                        raise CommandError(
                            f"{table}.{column} row {key} can't be decrypted with any configured "
                            "key; was a key removed too early?"
                        ) from error
                    cursor.execute(update, [fresh, key, token])
                    count += cursor.rowcount
        return count


def _readable(fernet: Fernet, token: str) -> bool:
    try:
        fernet.decrypt(token.encode())
    except InvalidToken:
        return False
    return True

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ledger.checkpoints import LedgerBroken, write_checkpoint
from ledger.models import LedgerCheckpoint
from ledger.witness import send_to_witnesses


class Command(BaseCommand):
    help = (
        "Sign the audit ledger's head now (if it moved since the last checkpoint) and print the "
        "checkpoint, one line, for keeping outside this database."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint = write_checkpoint()
        except LedgerBroken as error:
            raise CommandError(str(error)) from error
        if checkpoint is None:
            latest = LedgerCheckpoint.objects.order_by("-seq").first()
            if latest is None:
                self.stdout.write("Nothing to sign: the ledger has no events yet.")
            else:
                self.stdout.write(f"No new events since the checkpoint at seq {latest.seq}.")
            return
        self.stdout.write(
            f"checkpoint seq={checkpoint.seq} hash={checkpoint.head_hash} "
            f"created_at={checkpoint.created_at.isoformat()} "
            f"key={checkpoint.key_fingerprint} signature={checkpoint.signature}"
        )
        if settings.AUDIT_WITNESS_EMAILS:
            try:
                send_to_witnesses(checkpoint)
            except OSError as error:
                raise CommandError(
                    f"The checkpoint is stored, but mailing it to the witnesses failed: {error}"
                ) from error
            self.stdout.write(f"Sent to {', '.join(settings.AUDIT_WITNESS_EMAILS)}.")

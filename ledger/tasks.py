import logging

from celery import shared_task
from django.conf import settings

from ledger import checkpoints, witness
from ledger.models import LedgerCheckpoint

logger = logging.getLogger(__name__)


@shared_task
def write_checkpoint() -> None:
    """Sent by beat, and after each consent, withdrawal and deletion event: sign the ledger head
    if it moved. Safe to run twice (see the service)."""
    checkpoint = checkpoints.write_checkpoint()
    if checkpoint is not None:
        logger.info("audit checkpoint at seq %s, hash %s", checkpoint.seq, checkpoint.head_hash)
        if settings.AUDIT_WITNESS_EMAILS and witness.is_due(checkpoint):
            send_to_witnesses.delay(checkpoint.pk)


# A mail server down for a day still gets every checkpoint: backoff up to an hour, 48 tries.
@shared_task(autoretry_for=(OSError,), retry_backoff=60, retry_backoff_max=3600, max_retries=48)
def send_to_witnesses(checkpoint_id: int) -> None:
    """Email one checkpoint to the witnesses. Sending twice is harmless (the same statement)."""
    witness.send_to_witnesses(LedgerCheckpoint.objects.get(pk=checkpoint_id))

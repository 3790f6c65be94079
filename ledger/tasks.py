import logging

from celery import shared_task

from ledger import checkpoints

logger = logging.getLogger(__name__)


@shared_task
def write_checkpoint() -> None:
    """Sent by beat: sign the ledger head if it moved. Safe to run twice (see the service)."""
    checkpoint = checkpoints.write_checkpoint()
    if checkpoint is not None:
        logger.info("audit checkpoint at seq %s, hash %s", checkpoint.seq, checkpoint.head_hash)

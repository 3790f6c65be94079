from celery import shared_task
from django.utils import timezone

from portal.models import Heartbeat


@shared_task
def heartbeat() -> None:
    """Sent by beat, run by a worker: a fresh row means both are alive."""
    Heartbeat.objects.update_or_create(name="worker", defaults={"beat_at": timezone.now()})

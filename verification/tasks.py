"""Thin tasks: load by primary key, call one service. Every one is safe to run twice."""

from celery import shared_task
from celery.app.task import Task

from upstream.errors import UpstreamError
from verification import liveness, services, withdrawal


@shared_task
def deliver_invitation(invitation_id: int) -> None:
    services.deliver_invitation(invitation_id=invitation_id)


@shared_task
def sweep_liveness() -> int:
    """Lease the attempts due for a poll and queue one poll each."""
    token, ids = liveness.claim_due_attempts()
    for attempt_id in ids:
        poll_liveness.delay(attempt_id, token)
    return len(ids)


@shared_task
def poll_liveness(attempt_id: int, lease_token: str) -> None:
    liveness.poll_attempt(attempt_id=attempt_id, lease_token=lease_token)


@shared_task
def expire_sessions() -> int:
    return services.expire_sessions()


@shared_task(bind=True, max_retries=None)
def destroy_withdrawn(self: Task, consent_id: int) -> None:
    """Retried until everything is deleted: an outage delays destruction, it never skips it."""
    try:
        withdrawal.destroy(consent_id=consent_id)
    except (UpstreamError, withdrawal.DestructionPending) as error:
        delay = min(3600, 30 * 2 ** min(self.request.retries, 7))
        raise self.retry(countdown=getattr(error, "retry_after", None) or delay) from error


@shared_task
def sweep_withdrawals() -> int:
    """Picks up destructions whose task was lost or gave up while the upstream was down."""
    ids = withdrawal.withdrawn_not_destroyed()
    for consent_id in ids:
        destroy_withdrawn.delay(consent_id)
    return len(ids)


@shared_task
def apply_retention() -> int:
    """Daily: destroy expired local copies and carry out passed deadlines. Returns the failures,
    which the next run (and the withdrawal sweep) retries."""
    from verification import retention

    return retention.apply().failures


@shared_task(bind=True, max_retries=5)
def send_receipt(self: Task, consent_id: int) -> None:
    """The consent receipt by email; it stays downloadable from the person's page either way."""
    from verification import receipts
    from verification.models import Consent

    consent = Consent.objects.select_related("person", "project", "text").get(pk=consent_id)
    if consent.person.email and not receipts.send_receipt(consent=consent):
        raise self.retry(countdown=300)

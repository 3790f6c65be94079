"""Thin tasks: load by primary key, call one service. Every one is safe to run twice."""

from celery import shared_task
from celery.app.task import Task

from upstream.errors import UpstreamError
from verification import liveness, services, withdrawal


@shared_task
def deliver_invitation(invitation_id: int) -> None:
    services.deliver_invitation(invitation_id=invitation_id)


@shared_task
def sweep_invitations() -> int:
    """Picks up invitations whose task was lost (the broker was down, or restarted empty)."""
    ids = services.invitations_to_deliver()
    for invitation_id in ids:
        deliver_invitation.delay(invitation_id)
    return len(ids)


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


@shared_task
def send_receipt(consent_id: int) -> None:
    """The consent receipt by email; it stays downloadable from the person's page either way.
    A refusal by the mail server is tried again by `sweep_receipts`."""
    from verification import receipts

    receipts.email_receipt(consent_id=consent_id)


@shared_task
def sweep_receipts() -> int:
    """Sends the receipts whose task was lost or whose email the mail server refused."""
    from verification import receipts

    ids = receipts.unsent_receipts()
    for consent_id in ids:
        send_receipt.delay(consent_id)
    return len(ids)

"""Thin tasks: load by primary key, call one service. Every one is safe to run twice."""

from celery import shared_task

from verification import services


@shared_task
def deliver_invitation(invitation_id: int) -> None:
    services.deliver_invitation(invitation_id=invitation_id)


@shared_task
def sweep_liveness() -> int:
    """Lease the attempts due for a poll and queue one poll each."""
    token, ids = services.claim_due_attempts()
    for attempt_id in ids:
        poll_liveness.delay(attempt_id, token)
    return len(ids)


@shared_task
def poll_liveness(attempt_id: int, lease_token: str) -> None:
    services.poll_attempt(attempt_id=attempt_id, lease_token=lease_token)


@shared_task
def expire_sessions() -> int:
    return services.expire_sessions()

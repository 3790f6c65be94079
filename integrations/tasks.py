from celery import shared_task

from integrations import delivery, milestones, outbox


@shared_task(ignore_result=True)
def deliver_webhooks(endpoint_id: int) -> None:
    delivery.deliver(endpoint_id=endpoint_id)


@shared_task(ignore_result=True)
def sweep_webhooks() -> None:
    """New ledger events into webhook events, then every endpoint with something due."""
    from portal.queueing import enqueue_on_commit

    outbox.sweep()
    for endpoint_id in delivery.due_endpoints():
        enqueue_on_commit(deliver_webhooks, endpoint_id, sweep="integrations.tasks.sweep_webhooks")


@shared_task(ignore_result=True)
def record_consent_milestones() -> None:
    milestones.record_milestones()


@shared_task(ignore_result=True)
def forget_idempotent_answers() -> None:
    """Answers kept for `Idempotency-Key` repeats are dropped after their 24 hours."""
    from integrations.api.idempotency import expired_before

    expired_before()

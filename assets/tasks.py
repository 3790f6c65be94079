"""Thin tasks: load by primary key, call one service. Every one is safe to run twice."""

from celery import shared_task
from celery.app.task import Task

from assets import services
from assets.models import Asset


@shared_task(bind=True, max_retries=None)
def forward_asset(self: Task, asset_id: int) -> None:
    try:
        services.forward(asset_id=asset_id)
    except services.ForwardLater as later:
        # Throttling and outages slow forwarding down; they never fail the asset.
        raise self.retry(countdown=later.delay) from later


@shared_task
def check_asset(asset_id: int) -> None:
    asset = Asset.objects.select_related("group__account").filter(pk=asset_id).first()
    if asset is not None:
        services.refresh_status(asset=asset)


@shared_task
def sweep_processing() -> int:
    ids = services.claim_due_checks()
    for asset_id in ids:
        check_asset.delay(asset_id)
    return len(ids)


@shared_task
def sweep_forwarding() -> int:
    """Picks up what a lost message or a dead worker left behind."""
    ids = services.stalled_forwarding_ids()
    for asset_id in ids:
        forward_asset.delay(asset_id)
    return len(ids)

"""Registering webhook endpoints and rotating their secrets (admin, manage.py and the API)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.destinations import check_url
from integrations.models import WebhookEndpoint
from integrations.outbox import EVENT_TYPES
from ledger.services import Actor, record


def create_endpoint(
    *, url: str, events: list[str], actor: Actor, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Check the URL, store the endpoint; returns it and its secret (to show once)."""
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(
            f"Unknown event type {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}."
        )
    check_url(url)
    secret = WebhookEndpoint.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url, events=sorted(set(events)), description=description, secret=secret
        )
        record(
            action="webhook.endpoint_added",
            actor=actor,
            subject=endpoint,
            payload={"url": url, "events": endpoint.events},
        )
    return endpoint, secret


def rotate_secret(*, endpoint: WebhookEndpoint, actor: Actor) -> str:
    """A new secret; the current one stays valid for `WEBHOOK_ROTATION_HOURS` (both sign)."""
    secret = WebhookEndpoint.new_secret()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            secret=secret,
            previous_secret=endpoint.secret,
            previous_secret_until=timezone.now() + timedelta(hours=settings.WEBHOOK_ROTATION_HOURS),
        )
        record(
            action="webhook.secret_rotated",
            actor=actor,
            subject=endpoint,
            payload={"url": endpoint.url},
        )
    endpoint.refresh_from_db()
    return secret

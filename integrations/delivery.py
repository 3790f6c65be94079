"""Sending webhook events to an endpoint: in ledger order, one sender at a time, each event
retried with backoff (`WEBHOOK_RETRY_SCHEDULE`, more than a day in all) until a 2xx answer, and
an endpoint that keeps failing paused with a mail to the admins.

An event waits for the ones before it at the same endpoint, so receivers see effects in the order
they happened (a withdrawal never arrives before the consent it withdraws). At-least-once: a
worker killed after the receiver answered sends the event again, with the same `webhook-id`.
"""

import json
import logging
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations import signing
from integrations.destinations import DestinationRefused, check_url
from integrations.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status
EXCERPT = 500


def deliver(*, endpoint_id: int) -> int:
    """Send the endpoint's due events, oldest first, stopping at the first failure. Returns how
    many were delivered. Safe to run twice at once: the second finds the endpoint leased."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 30)
    claimed = (
        WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True, paused_at__isnull=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease)
    )
    if not claimed:
        return 0
    delivered = 0
    try:
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        while True:
            head = (
                WebhookDelivery.objects.filter(endpoint=endpoint, status=Status.PENDING)
                .select_related("event")
                .order_by("event__ledger_seq", "pk")
                .first()
            )
            if head is None or (head.next_attempt_at and head.next_attempt_at > timezone.now()):
                break
            if not _attempt(endpoint, head):
                break
            delivered += 1
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(lease_until=lease)
    finally:
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(lease_until=None)
    return delivered


def _attempt(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> bool:
    event = delivery.event
    body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()
    started = time.monotonic()
    status_code: int | None = None
    excerpt = error = ""
    try:
        check_url(endpoint.url)
        response = requests.post(
            endpoint.url,
            data=body,
            headers=signing.headers(
                secrets=endpoint.signing_secrets(),
                message_id=event.public_id,
                timestamp=int(time.time()),
                body=body,
            ),
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        )
        status_code = response.status_code
        # Only the start of the answer: a receiver must not fill the log, or a worker's memory.
        excerpt = response.raw.read(EXCERPT, decode_content=True).decode("utf-8", "replace")
        response.close()
    except DestinationRefused as refused:
        error = str(refused)
    except requests.RequestException as failure:
        error = type(failure).__name__
    latency = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    if status_code is not None and 300 <= status_code < 400:
        error = "Redirects are not followed: give the final URL."
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=status_code,
            latency_ms=latency,
            response_excerpt=excerpt[:EXCERPT],
            error=error[:300],
        )
        attempts = delivery.attempts + 1
        if ok:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=Status.SUCCEEDED, attempts=attempts, completed_at=now, next_attempt_at=None
            )
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failure_streak=0)
            return True
        schedule = settings.WEBHOOK_RETRY_SCHEDULE
        if attempts > len(schedule):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=Status.FAILED, attempts=attempts, completed_at=now, next_attempt_at=None
            )
        else:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                attempts=attempts,
                next_attempt_at=now + timedelta(seconds=schedule[attempts - 1]),
            )
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            failure_streak=F("failure_streak") + 1
        )
        endpoint.refresh_from_db(fields=["failure_streak"])
        if endpoint.failure_streak >= settings.WEBHOOK_PAUSE_AFTER_FAILURES and (
            WebhookEndpoint.objects.filter(pk=endpoint.pk, paused_at__isnull=True).update(
                paused_at=now
            )
        ):
            transaction.on_commit(lambda: _tell_admins(endpoint, error or f"HTTP {status_code}"))
    return False


def _tell_admins(endpoint: WebhookEndpoint, last: str) -> None:
    try:
        mail_admins(
            subject=f"Webhook endpoint paused: {endpoint.url}",
            message=(
                f"Sitter paused the webhook endpoint {endpoint.url} after "
                f"{endpoint.failure_streak} failed attempts in a row (the last: {last}).\n\n"
                "Its events are kept and wait. Fix the receiver, then clear 'paused' on the "
                "endpoint in admin: everything waiting is sent, in order."
            ),
        )
    except OSError as failure:
        logger.warning("could not mail the admins about endpoint %s: %s", endpoint.pk, failure)


def send_again(*, delivery: WebhookDelivery) -> None:
    """Queue a delivered or given-up event once more (same `webhook-id`)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), completed_at=None
    )


def due_endpoints() -> list[int]:
    """Endpoints with an event whose time to be sent came (a retry, or a lost task)."""
    return sorted(
        set(
            WebhookDelivery.objects.filter(
                status=Status.PENDING,
                next_attempt_at__lte=timezone.now(),
                endpoint__is_active=True,
                endpoint__paused_at__isnull=True,
            ).values_list("endpoint_id", flat=True)[:1000]
        )
    )

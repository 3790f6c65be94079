"""Readiness checks for /readyz. Each returns (ok, detail); none reveals a secret."""

import socket
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.celery import app as celery_app
from portal.models import Heartbeat

Check = Callable[[], tuple[bool, str]]


def database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True, connection.vendor


def broker() -> tuple[bool, str]:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return True, "reachable"


def workers() -> tuple[bool, str]:
    beat = Heartbeat.objects.filter(name="worker").first()
    if beat is None:
        return False, "no heartbeat yet"
    age = timezone.now() - beat.beat_at
    fresh = age < settings.HEARTBEAT_INTERVAL * 3 + timedelta(seconds=5)
    return fresh, f"last heartbeat {int(age.total_seconds())} s ago"


def upstreams() -> tuple[bool, str]:
    """Each active upstream account's host accepts a connection. No API call: nothing is billed,
    no rate limit is spent, no credential is sent."""
    from upstream.models import UpstreamAccount

    hosts = {
        (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        for parts in (
            urlsplit(url)
            for url in UpstreamAccount.objects.filter(is_active=True).values_list(
                "base_url", flat=True
            )
        )
        if parts.hostname
    }
    if not hosts:
        return False, "no active upstream account"
    unreachable = []
    for host, port in sorted(hosts):
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            unreachable.append(f"{host}:{port}")
    if unreachable:
        return False, f"unreachable: {', '.join(unreachable)}"
    return True, f"{len(hosts)} reachable"


# Critical checks make /readyz answer 503; the others only degrade it.
CRITICAL: dict[str, Check] = {"database": database, "broker": broker}
ADVISORY: dict[str, Check] = {"workers": workers, "upstreams": upstreams}

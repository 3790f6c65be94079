"""Readiness checks for /readyz. Each returns (ok, detail); none reveals a secret."""

from collections.abc import Callable
from datetime import timedelta

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


# Critical checks make /readyz answer 503; the others only degrade it.
CRITICAL: dict[str, Check] = {"database": database, "broker": broker}
ADVISORY: dict[str, Check] = {"workers": workers}

from datetime import timedelta

import pytest
from django.utils import timezone

from portal import health
from portal.models import Heartbeat
from portal.tasks import heartbeat

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_degraded_until_a_worker_has_beaten(client):
    body = client.get("/readyz").json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["workers"] == {"ok": False, "detail": "no heartbeat yet"}
    assert body["status"] == "degraded"


def test_readyz_is_ok_after_the_heartbeat_task_runs(client, account):
    heartbeat()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_a_stale_heartbeat_degrades_readiness(client):
    Heartbeat.objects.create(name="worker", beat_at=timezone.now() - timedelta(hours=1))
    assert client.get("/readyz").json()["checks"]["workers"]["ok"] is False


def test_a_failing_critical_check_answers_503_without_details_of_the_error(client, monkeypatch):
    def broken() -> tuple[bool, str]:
        raise ConnectionRefusedError("password=hunter2 at redis://secret@host")

    monkeypatch.setitem(health.CRITICAL, "broker", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "detail": "ConnectionRefusedError"}
    assert b"hunter2" not in response.content


def test_readyz_names_an_unreachable_upstream_without_its_credentials(client, account):
    account.base_url = "http://127.0.0.1:9"  # the discard port: nothing listens
    account.save()
    heartbeat()
    body = client.get("/readyz").json()
    assert body["status"] == "degraded"
    assert body["checks"]["upstreams"] == {"ok": False, "detail": "unreachable: 127.0.0.1:9"}
    assert account.api_token not in str(body)

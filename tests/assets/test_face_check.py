"""The face pre-check runs in the worker, once, before the upstream call; web workers never load
MediaPipe. Its warnings reach the uploader through the status answer and the group page."""

import subprocess
import sys
from pathlib import Path

import pytest

from assets import services
from assets.models import Asset
from ledger.models import AuditEvent
from tests.assets.test_intake import upload

pytest.importorskip("mediapipe", reason="the face pre-check needs mediapipe")

pytestmark = pytest.mark.django_db
Status = Asset.Status
ROOT = Path(__file__).resolve().parents[2]


def test_face_warnings_arrive_with_the_forward_not_the_upload(
    staff_client, verified_group, media, settings
):
    settings.ASSET_FORWARDING_MODE = "inline"
    response = upload(staff_client, verified_group, media.image((800, 1000)), "landscape.jpg")
    assert response.status_code == 201, response.content
    body = response.json()["assets"][0]
    assert body["problems"] == []  # nothing to say yet: the check has not run
    asset = Asset.objects.get(pk=body["id"])
    assert asset.face_checked_at is None
    assert not AuditEvent.objects.filter(action="asset.face_checked").exists()

    services.forward(asset_id=asset.pk)

    asset.refresh_from_db()
    assert asset.status == Status.PROCESSING and asset.face_checked_at is not None
    status = staff_client.get(body["status_url"]).json()
    assert [(p["code"], p["severity"]) for p in status["problems"]] == [("no_face", "warning")]
    event = AuditEvent.objects.get(action="asset.face_checked")
    assert [p["code"] for p in event.payload["problems"]] == ["no_face"]
    assert event.payload["sha256"] == asset.sha256
    page = staff_client.get(f"/groups/{verified_group.pk}/")
    assert "No face was found" in page.content.decode()


def test_a_retried_forward_does_not_check_the_face_again(
    staff_client, verified_group, media, settings, simulator
):
    settings.ASSET_FORWARDING_MODE = "inline"
    response = upload(staff_client, verified_group, media.image((800, 1000)), "landscape.jpg")
    asset = Asset.objects.get(pk=response.json()["assets"][0]["id"])
    simulator.control(
        "POST",
        "faults",
        json={"action": "CreateAsset", "kind": "rate_limit", "count": 5, "retry_after": 7},
    )
    with pytest.raises(services.ForwardLater):
        services.forward(asset_id=asset.pk)
    asset.refresh_from_db()
    assert asset.status == Status.VALIDATED and asset.face_checked_at is not None
    simulator.control("DELETE", "faults")
    services.forward(asset_id=asset.pk)
    asset.refresh_from_db()
    assert asset.status == Status.PROCESSING
    assert [p["code"] for p in asset.warnings] == ["no_face"]
    assert AuditEvent.objects.filter(action="asset.face_checked").count() == 1


def test_sound_is_not_face_checked(staff_client, verified_group, media, settings):
    settings.ASSET_FORWARDING_MODE = "inline"
    response = upload(staff_client, verified_group, media.wav(3.0), "voice.wav")
    asset = Asset.objects.get(pk=response.json()["assets"][0]["id"])
    services.forward(asset_id=asset.pk)
    asset.refresh_from_db()
    assert asset.status == Status.PROCESSING and asset.face_checked_at is None
    assert not AuditEvent.objects.filter(action="asset.face_checked").exists()


def test_an_upload_needs_neither_mediapipe_nor_the_face_check(
    staff_client, verified_group, media, monkeypatch
):
    # A module set to None in sys.modules can't be imported: if the web path reached for the
    # face check (or MediaPipe) while taking a photo in, the upload would fail or warn.
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    monkeypatch.setitem(sys.modules, "assets.media.face", None)
    response = upload(staff_client, verified_group, media.image((800, 1000)), "portrait.jpg")
    assert response.status_code == 201, response.content
    assert response.json()["assets"][0]["problems"] == []


@pytest.mark.django_db(databases=[])
def test_the_web_application_does_not_import_mediapipe():
    """What a gunicorn worker loads: the WSGI application and every view behind its URLs."""
    script = (
        "import sys, portal.wsgi\n"
        "from django.urls import get_resolver\n"
        "def walk(patterns):\n"
        "    for p in patterns:\n"
        "        walk(p.url_patterns) if hasattr(p, 'url_patterns') else p.callback\n"
        "walk(get_resolver().url_patterns)\n"
        "print(sorted(m for m in ('mediapipe', 'assets.media.face') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr

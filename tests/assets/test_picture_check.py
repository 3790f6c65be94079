"""The worker decodes the picture before the paid call: a file whose structure is intact around
data that isn't a picture passes intake, and is refused there, with a message, without any call
to the upstream."""

from __future__ import annotations

import pytest

from assets import services
from assets.models import Asset
from ledger.models import AuditEvent
from tests.assets.test_intake import upload_bytes
from tests.media.hostile_pictures import heic_with_random_pictures, mp4_with_random_media

pytest.importorskip("mediapipe", reason="the face pre-check needs mediapipe")

pytestmark = pytest.mark.django_db
Status = Asset.Status


def _no_upstream(*args: object, **kwargs: object) -> None:
    raise AssertionError("the upstream was called for a picture that can't be decoded")


@pytest.mark.parametrize("kind", ["heic", "mp4"])
def test_an_undecodable_picture_is_refused_before_the_upstream_call(
    staff_client, verified_group, media, settings, monkeypatch, kind
):
    settings.ASSET_FORWARDING_MODE = "inline"
    if kind == "heic":
        data = heic_with_random_pictures(
            media.image((800, 1000), "HEIF", suffix="heic").read_bytes()
        )
    else:
        data = mp4_with_random_media(media.video((640, 640), seconds=3, audio=True).read_bytes())
    response = upload_bytes(staff_client, verified_group, f"random.{kind}", data)
    assert response.status_code == 201, response.content
    body = response.json()["assets"][0]
    assert body["status"] == "validated"  # its structure is intact: intake can't tell
    monkeypatch.setattr(services, "client_for", _no_upstream)

    services.forward(asset_id=body["id"])

    asset = Asset.objects.get(pk=body["id"])
    assert asset.status == Status.REJECTED and asset.completed_at is not None
    assert asset.error_code == "corrupt"
    assert "can't be decoded" in asset.error_message
    assert asset.face_checked_at is None
    status = staff_client.get(body["status_url"]).json()
    assert status["terminal"]
    assert any("can't be decoded" in p["message"] for p in status["problems"])
    event = AuditEvent.objects.get(action="asset.rejected")
    assert event.payload["sha256"] == asset.sha256
    assert [p["code"] for p in event.payload["problems"]] == ["corrupt"]
    services.forward(asset_id=asset.pk)  # a redelivered task finds nothing to do
    assert AuditEvent.objects.filter(action="asset.rejected").count() == 1


def test_a_decodable_video_goes_on_to_the_upstream(
    staff_client, verified_group, media, settings, simulator
):
    settings.ASSET_FORWARDING_MODE = "inline"
    path = media.video((640, 640), seconds=3, audio=True)
    response = upload_bytes(staff_client, verified_group, "clip.mp4", path.read_bytes())
    asset_id = response.json()["assets"][0]["id"]
    services.forward(asset_id=asset_id)
    asset = Asset.objects.get(pk=asset_id)
    assert asset.status == Status.PROCESSING and asset.face_checked_at is not None
    assert len(simulator.requests_for("CreateAsset")) == 1

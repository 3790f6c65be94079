"""Asset intake through the upload endpoint: checks, refusals, forwarding modes, follow-up."""

import hashlib
import random
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets import services
from assets.models import Asset
from ledger.models import AuditEvent
from tests.journey import make_verified_group
from tests.media.conftest import exif_bytes

pytestmark = pytest.mark.django_db
Status = Asset.Status


def upload(client, group, path: Path, name: str | None = None):
    return upload_bytes(client, group, name or path.name, path.read_bytes())


def upload_bytes(client, group, name: str, data: bytes):
    return client.post(
        f"/groups/{group.pk}/upload/",
        {"files": SimpleUploadedFile(name, data)},
        headers={"Accept": "application/json"},
    )


def run_forwarding_and_checks(asset: Asset) -> Asset:
    """What the worker and the beat sweep do, in order."""
    services.forward(asset_id=asset.pk)
    asset.refresh_from_db()
    if asset.status == Status.PROCESSING:
        asset = services.refresh_status(asset=asset)
    return asset


@pytest.mark.parametrize("mode", ["inline", "multipart"])
def test_an_image_goes_upstream_and_becomes_active(
    staff_client, verified_group, media, settings, simulator, mode
):
    settings.ASSET_FORWARDING_MODE = mode
    response = upload(staff_client, verified_group, media.image((800, 1000)), "portrait.jpg")
    assert response.status_code == 201, response.content
    body = response.json()["assets"][0]
    assert body["status"] == "validated" and body["kind"] == "image"
    asset = run_forwarding_and_checks(Asset.objects.get(pk=body["id"]))
    assert asset.status == Status.ACTIVE and asset.asset_uri == f"asset://{asset.upstream_id}"
    status = staff_client.get(body["status_url"]).json()
    assert status["terminal"] and status["asset_uri"].startswith("asset://")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"asset.received", "asset.forwarded", "asset.active"} <= actions
    received = AuditEvent.objects.get(action="asset.received")
    assert received.payload["sha256"] == asset.sha256
    assert len(simulator.requests_for("CreateAsset")) == 1


def test_url_mode_lets_the_upstream_download_the_stored_copy(
    live_server,
    ledger_transactional,
    settings,
    staff_user,
    person,
    account,
    project,
    consent_text,
    simulator,
    media,
    client,
):
    settings.ASSET_FORWARDING_MODE = "url"
    settings.PUBLIC_BASE_URL = live_server.url
    group = make_verified_group(person, account, project, consent_text, staff_user, simulator)
    client.force_login(staff_user)
    asset = Asset.objects.get(
        pk=upload(client, group, media.wav(3.0), "voice.wav").json()["assets"][0]["id"]
    )
    asset = run_forwarding_and_checks(asset)
    assert asset.status == Status.ACTIVE
    # The signed link stops working once the upstream is done with it.
    assert client.get(services.fetch_url(asset).removeprefix(live_server.url)).status_code == 404


def test_location_is_removed_at_intake_and_both_fingerprints_are_kept(
    staff_client, verified_group, media, settings, simulator
):
    settings.ASSET_FORWARDING_MODE = "multipart"
    photo = media.image((800, 1000), exif=exif_bytes(gps=True, device=True))
    uploaded = photo.read_bytes()
    assert b"AcmeCam" in uploaded
    response = upload(staff_client, verified_group, photo, "phone.jpg")
    asset = Asset.objects.get(pk=response.json()["assets"][0]["id"])
    stored = Path(asset.file.path).read_bytes()
    assert b"AcmeCam" not in stored
    # What the person sent, and what is kept and sent upstream.
    assert asset.sha256 == hashlib.sha256(uploaded).hexdigest()
    assert asset.forwarded_sha256 == hashlib.sha256(stored).hexdigest() != asset.sha256
    assert asset.size_bytes == len(uploaded)
    received = AuditEvent.objects.get(action="asset.received").payload
    assert (received["sha256"], received["forwarded_sha256"]) == (
        asset.sha256,
        asset.forwarded_sha256,
    )
    asset = run_forwarding_and_checks(asset)
    forwarded = AuditEvent.objects.get(action="asset.forwarded").payload
    assert forwarded["forwarded_sha256"] == asset.forwarded_sha256
    upstream = [
        a
        for credential in simulator.control("GET", "state")["credentials"].values()
        for a in credential["assets"]
        if a["id"] == asset.upstream_id
    ]
    assert [a["sha256"] for a in upstream] == [asset.forwarded_sha256]


def test_a_file_with_nothing_to_remove_is_kept_as_uploaded(staff_client, verified_group, media):
    video = media.video((640, 800), seconds=3)
    response = upload(staff_client, verified_group, video)
    asset = Asset.objects.get(pk=response.json()["assets"][0]["id"])
    assert Path(asset.file.path).read_bytes() == video.read_bytes()
    assert asset.forwarded_sha256 == asset.sha256 == hashlib.sha256(video.read_bytes()).hexdigest()


def test_a_file_is_hashed_as_it_streams_in_over_many_chunks(staff_client, verified_group):
    data = random.Random(5).randbytes(6 * 1024 * 1024 + 123)  # six 1 MB chunks and a bit
    response = upload_bytes(staff_client, verified_group, "noise.mp4", data)
    assert response.status_code == 422  # not a video; refused, its fingerprint kept
    asset = Asset.objects.get()
    assert (asset.sha256, asset.size_bytes) == (hashlib.sha256(data).hexdigest(), len(data))
    assert AuditEvent.objects.get(action="asset.rejected").payload["sha256"] == asset.sha256


def test_video_and_audio_are_accepted(staff_client, verified_group, media, settings):
    settings.ASSET_FORWARDING_MODE = "inline"
    for path in (media.video((640, 800), seconds=3), media.mp3(4.0)):
        response = upload(staff_client, verified_group, path)
        assert response.status_code == 201, response.content
        asset = run_forwarding_and_checks(Asset.objects.get(pk=response.json()["assets"][0]["id"]))
        assert asset.status == Status.ACTIVE, asset.error_message


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda m: m.video((640, 800), seconds=16.5), "the limit is 15 s"),
        (lambda m: m.image((250, 400)), "at least 300 px"),
        (lambda m: m.write("empty.jpg", b""), "empty"),
        (lambda m: m.write("notes.jpg", b"<html><script>alert(1)</script></html>"), ""),
    ],
)
def test_bad_files_are_refused_in_words_and_never_sent(
    staff_client, verified_group, media, simulator, build, words
):
    creates_before = len(simulator.requests_for("CreateAsset"))
    response = upload(staff_client, verified_group, build(media))
    assert response.status_code == 422
    asset = Asset.objects.get()
    assert asset.status == Status.REJECTED and asset.error_message
    assert words.lower() in asset.error_message.lower()
    assert not asset.file
    assert AuditEvent.objects.filter(action="asset.rejected").exists()
    assert len(simulator.requests_for("CreateAsset")) == creates_before


def test_a_kind_the_consent_does_not_cover_is_refused(staff_client, verified_group, media):
    consent = verified_group.session.consents.get()
    consent.media_kinds = ["image"]
    consent.save()
    response = upload(staff_client, verified_group, media.wav(3.0))
    assert response.status_code == 422
    assert "does not cover voice recordings" in Asset.objects.get().error_message


def test_without_an_active_consent_nothing_is_taken(staff_client, verified_group, media):
    from django.utils import timezone

    verified_group.session.consents.update(withdrawn_at=timezone.now())
    response = upload(staff_client, verified_group, media.image())
    assert response.status_code == 409 and "no active consent" in response.json()["error"]
    assert not Asset.objects.exists()


def test_a_face_mismatch_is_explained_with_what_to_do(
    staff_client, verified_group, media, simulator, settings
):
    settings.ASSET_FORWARDING_MODE = "inline"
    simulator.control(
        "POST", "face-mismatch", json={"group_id": verified_group.upstream_id, "count": 1}
    )
    response = upload(staff_client, verified_group, media.image((800, 1000)))
    asset = run_forwarding_and_checks(Asset.objects.get(pk=response.json()["assets"][0]["id"]))
    assert asset.status == Status.FAILED and asset.error_code == "FaceMismatch"
    assert "front-facing" in asset.error_message
    error = staff_client.get(f"/assets/{asset.pk}/status/").json()["error"]
    assert error["code"] == "FaceMismatch" and "front-facing" in (error["message"] + error["fix"])


def test_an_oversized_body_is_refused_while_it_streams(staff_client, verified_group, settings):
    settings.ASSET_UPLOAD_MAX_BYTES = 100_000
    big = SimpleUploadedFile("huge.mp4", b"\0" * 300_000)
    response = staff_client.post(
        f"/groups/{verified_group.pk}/upload/",
        {"files": big},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413 and "too large" in response.json()["error"]
    assert not Asset.objects.exists()


def test_the_plain_form_works_without_javascript(staff_client, verified_group, media):
    with media.image((800, 1000)).open("rb") as handle:
        response = staff_client.post(
            f"/groups/{verified_group.pk}/upload/",
            {"files": [SimpleUploadedFile("a.jpg", handle.read())]},
            follow=True,
        )
    assert response.status_code == 200
    assert b"was checked and is being sent" in response.content


def test_other_staff_pages_and_strangers(client, verified_group, media):
    assert client.get(f"/groups/{verified_group.pk}/").status_code == 302
    with media.image().open("rb") as handle:
        response = client.post(
            f"/groups/{verified_group.pk}/upload/",
            {"files": SimpleUploadedFile("a.jpg", handle.read())},
        )
    assert response.status_code in (302, 403)
    assert not Asset.objects.exists()


def test_a_large_upload_spooled_to_disk_is_moved_not_copied_into_memory(
    staff_client, verified_group, media, settings
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # every upload goes through a temporary file
    response = upload(staff_client, verified_group, media.image((800, 1000)), "big.jpg")
    assert response.status_code == 201, response.content
    asset = Asset.objects.get()
    assert Path(asset.file.path).stat().st_size == asset.size_bytes

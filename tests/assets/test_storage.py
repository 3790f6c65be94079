"""Media storage: every test runs with media under MEDIA_ROOT and again in a bucket on moto's S3
server (the `media_storage` fixture), through the same code (assets/storage.py)."""

import hashlib
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from django.core import signing
from django.core.management import call_command

from assets import services, storage
from assets.models import Asset
from assets.reconcile import reconcile_storage
from ledger.models import AuditEvent
from ledger.services import Actor
from portal.objectstore import StorageURLError, storage_options
from tests.assets.test_intake import run_forwarding_and_checks, upload, upload_bytes
from tests.journey import make_verified_group
from tests.media.conftest import exif_bytes
from verification import retention, withdrawal
from verification.models import Consent

pytestmark = pytest.mark.django_db
Status = Asset.Status


def stored_names(bucket: str, settings) -> list[str]:
    """What media storage holds, seen from outside the portal (the bucket, or the folder)."""
    if bucket:
        options = settings.STORAGES["default"]["OPTIONS"]
        client = boto3.client(
            "s3",
            endpoint_url=options["endpoint_url"],
            aws_access_key_id=options["access_key"],
            aws_secret_access_key=options["secret_key"],
            region_name=options["region_name"],
        )
        listing = client.list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def key_of(asset: Asset, bucket: str) -> str:
    return f"media/{asset.file.name}" if bucket else str(asset.file.name)


@pytest.fixture
def spool_dir(settings, tmp_path) -> Path:
    folder = tmp_path / "spools"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def test_an_accepted_upload_is_kept_stripped_under_a_random_name(
    media_storage, settings, staff_client, verified_group, media, spool_dir
):
    photo = media.image((800, 1000), exif=exif_bytes(gps=True, device=True))
    response = upload(staff_client, verified_group, photo, "holiday-in-lisbon.jpg")
    assert response.status_code == 201, response.content
    asset = Asset.objects.get()
    assert stored_names(media_storage, settings) == [key_of(asset, media_storage)]
    name = str(asset.file.name)
    assert "lisbon" not in name and len(Path(name).name) == 32
    with asset.file.open("rb") as kept:
        stored = kept.read()
    assert b"AcmeCam" not in stored  # the location and device metadata went before keeping
    assert hashlib.sha256(stored).hexdigest() == asset.forwarded_sha256 != asset.sha256
    assert list(spool_dir.iterdir()) == []  # the upload's spool is gone


def test_a_refused_upload_never_reaches_storage(
    media_storage, settings, staff_client, verified_group, spool_dir
):
    response = upload_bytes(staff_client, verified_group, "clip.mp4", b"not a video at all" * 100)
    assert response.status_code == 422
    assert Asset.objects.get().status == Status.REJECTED
    assert stored_names(media_storage, settings) == []
    assert list(spool_dir.iterdir()) == []


def test_a_check_that_crashes_leaves_no_spool_behind(
    media_storage, settings, staff_client, verified_group, media, spool_dir, monkeypatch
):
    def crash(*args, **kwargs):
        raise RuntimeError("a bug in a checker")

    monkeypatch.setattr(services, "inspect", crash)
    with pytest.raises(RuntimeError):
        upload(staff_client, verified_group, media.wav(2.0), "voice.wav")
    assert list(spool_dir.iterdir()) == []
    assert stored_names(media_storage, settings) == []


@pytest.mark.parametrize("mode", ["inline", "multipart"])
def test_path_modes_and_the_face_check_read_a_spool_removed_after(
    media_storage, settings, staff_client, verified_group, media, simulator, spool_dir, mode
):
    settings.ASSET_FORWARDING_MODE = mode
    upload(staff_client, verified_group, media.image((800, 1000)), "me.jpg")
    asset = run_forwarding_and_checks(Asset.objects.get())
    assert asset.status == Status.ACTIVE and asset.face_checked_at is not None
    assert list(spool_dir.iterdir()) == []
    sent = [
        a
        for credential in simulator.control("GET", "state")["credentials"].values()
        for a in credential["assets"]
        if a["id"] == asset.upstream_id
    ]
    assert [a["sha256"] for a in sent] == [asset.forwarded_sha256]


def test_the_journey_upload_bucket_presigned_url_active_withdrawal(
    media_storage,
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
    # With a bucket nothing may reach the portal for the bytes: its address leads nowhere.
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9" if media_storage else live_server.url
    group = make_verified_group(person, account, project, consent_text, staff_user, simulator)
    client.force_login(staff_user)
    video = media.video((640, 800), seconds=3)
    body = upload(client, group, video, "take-1.mp4").json()["assets"][0]
    asset = Asset.objects.get(pk=body["id"])
    assert stored_names(media_storage, settings) == [key_of(asset, media_storage)]

    url = services.fetch_url(asset)
    if media_storage:
        endpoint = settings.STORAGES["default"]["OPTIONS"]["endpoint_url"]
        assert url.startswith(f"{endpoint}/{media_storage}/media/{asset.file.name}?")
        assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url
    else:
        assert url.startswith(f"{live_server.url}/")
    asset = run_forwarding_and_checks(asset)
    assert asset.status == Status.ACTIVE, asset.error_message
    sent = [
        a
        for credential in simulator.control("GET", "state")["credentials"].values()
        for a in credential["assets"]
        if a["id"] == asset.upstream_id
    ]
    assert [(a["via"], a["sha256"]) for a in sent] == [("url", asset.forwarded_sha256)]
    # Counted at the simulator: who served the bytes it downloaded.
    source = urlsplit(url).netloc
    assert simulator.control("GET", "downloads")["bytes_by_host"] == {source: sent[0]["size"]}
    assert (source == urlsplit(live_server.url).netloc) is not bool(media_storage)

    consent = Consent.objects.get()
    assert withdrawal.withdraw_consent(consent=consent, actor=Actor.person(person.pk))
    assert withdrawal.destroy(consent_id=consent.pk)  # the queued task, as a worker runs it
    asset.refresh_from_db()
    assert asset.status == Status.DELETED and not asset.file
    assert stored_names(media_storage, settings) == []
    assert AuditEvent.objects.filter(action="asset.deleted", subject_id=str(asset.pk)).exists()


def test_retention_deletes_the_stored_file_and_records_it(
    media_storage, settings, staff_client, verified_group, media, simulator
):
    settings.ASSET_FORWARDING_MODE = "inline"
    upload(staff_client, verified_group, media.wav(3.0), "voice.wav")
    asset = run_forwarding_and_checks(Asset.objects.get())
    assert stored_names(media_storage, settings)
    outcome = retention.destroy_local_copy(asset=asset)
    assert not outcome.error
    asset.refresh_from_db()
    assert not asset.file and stored_names(media_storage, settings) == []
    assert AuditEvent.objects.filter(action="asset.local_copy_destroyed").count() == 1


def test_reconcile_reports_files_without_a_row_and_rows_without_a_file(
    media_storage, settings, staff_client, verified_group, media
):
    upload(staff_client, verified_group, media.wav(3.0), "one.wav")
    upload(staff_client, verified_group, media.wav(2.0), "two.wav")
    kept, lost = Asset.objects.order_by("pk")
    assert reconcile_storage().unresolved == 0
    stray = storage.keep(_spooled(b"left behind by a crash"))
    storage.delete(lost.file.name)
    report = reconcile_storage()
    assert report.unowned == [stray]
    assert report.missing == [(lost.pk, lost.file.name)]
    out = StringIO()
    call_command("reconcile_upstream", stdout=out)
    text = out.getvalue()
    assert f"stored file without an asset: {stray}" in text
    assert f"asset {lost.pk} without its stored file: {lost.file.name}" in text
    assert str(kept.file.name) not in text


def _spooled(data: bytes) -> Path:
    spool = storage.new_spool()
    spool.write_bytes(data)
    return spool


def test_the_upstream_fetch_view_streams_the_stored_copy(
    media_storage, settings, staff_client, verified_group, media, client
):
    upload(staff_client, verified_group, media.wav(3.0), "voice.wav")
    asset = Asset.objects.get()
    Asset.objects.filter(pk=asset.pk).update(status=Status.FORWARDING)
    token = signing.dumps(
        {"asset": asset.pk, "name": asset.upstream_name}, salt=services.FETCH_SALT
    )
    response = client.get(f"/fetch/{token}/")
    assert response.status_code == 200
    streamed = b"".join(response.streaming_content)
    assert hashlib.sha256(streamed).hexdigest() == asset.forwarded_sha256
    storage.delete(asset.file.name)
    assert client.get(f"/fetch/{token}/").status_code == 404


def test_objects_are_private_encrypted_and_presigned_downloads_save_as_attachment(
    s3_server, settings, staff_client, verified_group, media
):
    bucket = s3_server.new_bucket()
    settings.STORAGES = s3_server.storages(
        settings.STORAGES, bucket, object_parameters={"ServerSideEncryption": "AES256"}
    )
    upload(staff_client, verified_group, media.wav(3.0), "voice.wav")
    asset = Asset.objects.get()
    key = f"media/{asset.file.name}"
    client = s3_server.client()
    assert client.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"
    grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner alone
    assert all("URI" not in g["Grantee"] for g in grants)  # no AllUsers / AuthenticatedUsers
    plain = requests.get(f"{s3_server.url}/{bucket}/{key}", timeout=10)
    assert plain.status_code == 403  # unsigned: refused
    url = storage.presigned_url(
        asset.file.name, ttl=settings.MEDIA_PRESIGNED_URL_TTL, filename="voice.wav", attachment=True
    )
    signed = requests.get(url, timeout=10)
    assert signed.status_code == 200
    assert signed.headers["Content-Disposition"] == 'attachment; filename="voice.wav"'
    assert hashlib.sha256(signed.content).hexdigest() == asset.forwarded_sha256


def test_a_bucket_that_refuses_the_file_refuses_the_upload_in_words(
    s3_server, settings, staff_client, verified_group, media, spool_dir
):
    settings.STORAGES = s3_server.storages(settings.STORAGES, "no-such-bucket")
    response = upload(staff_client, verified_group, media.wav(3.0), "voice.wav")
    assert response.status_code == 503
    assert "could not be stored" in response.content.decode()
    assert not Asset.objects.exists()
    assert list(spool_dir.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket/prefix",
        "s3://",
        "s3://key:secret@bucket/media",
        "s3://bucket/media?endpoint=http://minio:9000",
        "s3://bucket/media?sse=rot13",
    ],
)
def test_a_media_storage_url_that_cannot_work_says_what_to_change(url):
    with pytest.raises(StorageURLError) as refused:
        storage_options(url)
    assert "MEDIA_STORAGE_URL" in str(refused.value)


def test_a_media_storage_url_names_bucket_prefix_endpoint_region_and_encryption(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-example")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY_FILE", __file__)
    options = storage_options(
        "s3://studio-media/sitter/?endpoint_url=https://minio.internal:9000&region=eu-west-1"
        "&addressing_style=path&sse=aws:kms&sse_kms_key_id=alias/sitter"
    )
    assert options["bucket_name"] == "studio-media" and options["location"] == "sitter"
    assert options["endpoint_url"] == "https://minio.internal:9000"
    assert options["region_name"] == "eu-west-1" and options["addressing_style"] == "path"
    assert options["object_parameters"] == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/sitter",
    }
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert options["access_key"] == "AKIA-example"
    assert options["secret_key"] == Path(__file__).read_text().strip()

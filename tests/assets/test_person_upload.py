"""The person adds their own files from their link once verified."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Asset
from verification import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def person_link(verified_group, staff_user) -> str:
    url = services.show_link(session=verified_group.session, user=staff_user)
    return url.removeprefix("http://127.0.0.1:8000")


def test_a_verified_person_uploads_from_their_link(phone, person_link, media):
    page = phone.get(person_link)
    assert b"Add photos, videos or voice" in page.content
    upload_page = phone.get(f"{person_link}upload/")
    assert upload_page.status_code == 200 and b'name="files"' in upload_page.content
    with media.image((800, 1000)).open("rb") as handle:
        response = phone.post(
            f"{person_link}upload/",
            {"files": SimpleUploadedFile("selfie.jpg", handle.read())},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 201
    body = response.json()["assets"][0]
    asset = Asset.objects.get(pk=body["id"])
    assert asset.uploaded_by_person and asset.uploaded_by is None
    assert phone.get(body["status_url"]).json()["status"] == "validated"


def test_the_person_sees_the_face_check_advice_once_it_ran(phone, person_link, media, settings):
    pytest.importorskip("mediapipe", reason="the face pre-check needs mediapipe")
    from assets import services as asset_services

    settings.ASSET_FORWARDING_MODE = "inline"
    with media.image((800, 1000)).open("rb") as handle:
        response = phone.post(
            f"{person_link}upload/",
            {"files": SimpleUploadedFile("landscape.jpg", handle.read())},
            headers={"Accept": "application/json"},
        )
    body = response.json()["assets"][0]
    asset_services.forward(asset_id=body["id"])
    assert [p["code"] for p in phone.get(body["status_url"]).json()["problems"]] == ["no_face"]
    # In the person's words (the check's own message is for staff).
    assert "We could not find a face" in phone.get(f"{person_link}upload/").content.decode()


def test_a_person_cannot_read_another_groups_asset(phone, person_link, media, verified_group):
    other = Asset.objects.create(
        group=verified_group,
        kind="image",
        original_name="x.jpg",
        upstream_name="sitter-other",
        size_bytes=1,
        sha256="0" * 64,
    )
    assert phone.get(f"{person_link}assets/{other.pk}/status/").status_code == 200
    assert phone.get(f"/p/not-their-token/assets/{other.pk}/status/").status_code == 404


def test_uploads_wait_for_the_verification(phone, start_by_email):
    _, link = start_by_email()
    assert phone.get(f"{link}upload/").status_code == 404


def test_a_browser_signed_in_as_staff_cannot_upload_as_the_person(staff_client, person_link, media):
    """Files through a person's link are recorded as the person's own: staff use their page."""
    with media.image((800, 1000)).open("rb") as handle:
        response = staff_client.post(
            f"{person_link}upload/",
            {"files": SimpleUploadedFile("selfie.jpg", handle.read())},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 403
    assert "count as the person's own" in response.json()["error"]
    assert not Asset.objects.exists()

from datetime import timedelta

import pytest
from django.core import mail

from assets.models import Asset
from integrations.models import ExternalReference
from ledger.models import AuditEvent
from tests.journey import run_pending_invitations
from verification.models import AuthorizingPerson

pytestmark = pytest.mark.django_db


def test_persons_are_created_with_an_external_reference_found_by_it_and_echoed(api):
    created = api.post(
        "/api/v1/persons",
        {
            "full_name": "  Jane   Doe ",
            "email": "jane@example.com",
            "phone": "+1 415 555 0123",
            "external_reference": "crm-42",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["id"].startswith("per_") and body["full_name"] == "Jane Doe"
    assert body["phone"] == "+14155550123" and body["external_reference"] == "crm-42"
    event = AuditEvent.objects.get(action="person.created")
    assert event.actor_label.startswith("api-key_")
    found = api.get("/api/v1/persons", external_reference="crm-42").json()
    assert [p["id"] for p in found["data"]] == [body["id"]]
    assert (
        api.get("/api/v1/persons", email="JANE@example.com").json()["data"][0]["id"] == body["id"]
    )
    assert api.get(f"/api/v1/persons/{body['id']}").json()["external_reference"] == "crm-42"


def test_bad_person_input_names_the_field(api):
    response = api.post("/api/v1/persons", {"full_name": "Jane", "phone": "555"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "phone"
    missing = api.post("/api/v1/persons", {"email": "x@example.com"})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "full_name"
    api.post("/api/v1/persons", {"full_name": "A", "external_reference": "dup"})
    again = api.post("/api/v1/persons", {"full_name": "B", "external_reference": "dup"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "external_reference"
    assert ExternalReference.objects.count() == 1


def test_unknown_ids_are_404_in_the_error_shape(api):
    for path in (
        "/api/v1/persons/per_999",
        "/api/v1/persons/12",
        "/api/v1/sessions/ses_x",
        "/api/v1/assets/ast_9",
        "/api/v1/clearances/clr_0",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_lists_page_with_cursors(api):
    for n in range(5):
        AuthorizingPerson.objects.create(full_name=f"Person {n}")
    first = api.get("/api/v1/persons", limit=2).json()
    second = api.get("/api/v1/persons", limit=2, cursor=first["next_cursor"]).json()
    third = api.get("/api/v1/persons", limit=2, cursor=second["next_cursor"]).json()
    names = [p["full_name"] for p in first["data"] + second["data"] + third["data"]]
    assert names == [f"Person {n}" for n in (4, 3, 2, 1, 0)] and third["next_cursor"] is None
    bad = api.get("/api/v1/persons", cursor="garbage!")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "cursor"


def test_a_session_by_email_sends_the_invitation_and_can_be_cancelled(
    api, person, account, project, consent_text
):
    created = api.post(
        "/api/v1/sessions",
        {
            "person": f"per_{person.pk}",
            "project": f"prj_{project.pk}",
            "consent_text": f"ctx_{consent_text.pk}",
            "media_kinds": ["image", "audio"],
            "delivery": "email",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["link"] is None and body["media_kinds"] == ["image", "audio"]
    run_pending_invitations()
    assert mail.outbox[-1].to == ["jane@example.com"]
    assert api.get(f"/api/v1/sessions/{body['id']}").json()["status"] == "invited"
    assert api.post(f"/api/v1/sessions/{body['id']}/links").status_code == 201
    cancelled = api.post(f"/api/v1/sessions/{body['id']}/cancel", {"reason": "Booked twice"})
    assert cancelled.json()["status"] == "cancelled"
    event = AuditEvent.objects.get(action="session.cancelled")
    assert event.payload["reason"] == "Booked twice"
    again = api.post(f"/api/v1/sessions/{body['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert api.post(f"/api/v1/sessions/{body['id']}/links").status_code == 409


def test_a_session_by_link_returns_the_portal_link_and_refuses_bad_input(
    api, person, account, project, consent_text
):
    base = {
        "person": f"per_{person.pk}",
        "project": f"prj_{project.pk}",
        "consent_text": f"ctx_{consent_text.pk}",
        "media_kinds": ["image"],
        "delivery": "link",
    }
    created = api.post("/api/v1/sessions", base).json()
    assert "/p/" in created["link"]
    assert (
        api.client.get(
            created["link"].split("://", 1)[1].split("/", 1)[1].join(["/", ""])
        ).status_code
        == 200
    )
    for change, field in (
        ({"project": "prj_999"}, "project"),
        ({"term_ends_on": "2000-01-01"}, "term_ends_on"),
        ({"media_kinds": []}, "media_kinds"),
        ({"person": "nobody"}, "person"),
    ):
        response = api.post("/api/v1/sessions", {**base, **change})
        assert response.status_code == 422, (change, response.content)
        assert response.json()["error"]["field"] == field
    # One open session per person and project: the first one goes before asking for another.
    api.post(f"/api/v1/sessions/{created['id']}/cancel", {"reason": "Trying email instead"})
    person.email = ""
    person.save()
    no_mail = api.post("/api/v1/sessions", {**base, "delivery": "email"})
    assert no_mail.status_code == 422 and no_mail.json()["error"]["field"] == "delivery"


def test_consents_groups_and_assets_are_listed_with_their_asset_uri(api, verified_group, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from assets import services

    upload = SimpleUploadedFile("face.jpg", media.image((800, 1000)).read_bytes(), "image/jpeg")
    asset = services.receive_upload(
        group=verified_group,
        upload=upload,
        uploader=services.Uploader(user=verified_group.session.created_by),
        request=None,
    )
    Asset.objects.filter(pk=asset.pk).update(status="active", upstream_id="asset-123")
    person = f"per_{verified_group.person_id}"
    consents = api.get("/api/v1/consents", person=person).json()["data"]
    assert consents[0]["status"] == "active" and consents[0]["media_kinds"] == [
        "image",
        "video",
        "audio",
    ]
    assert api.get(f"/api/v1/consents/{consents[0]['id']}").status_code == 200
    groups = api.get("/api/v1/groups", person=person).json()["data"]
    assert groups[0]["upstream_id"] == verified_group.upstream_id
    listed = api.get("/api/v1/assets", person=person, status="active").json()["data"]
    assert (
        listed[0]["asset_uri"] == "asset://asset-123" and listed[0]["consent"] == consents[0]["id"]
    )
    assert api.get("/api/v1/assets", kind="audio").json()["data"] == []
    assert api.get("/api/v1/assets", status="bogus").status_code == 422


def test_upload_through_the_api_is_checked_like_the_page(api, verified_group, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    path = f"/api/v1/groups/grp_{verified_group.pk}/assets"
    created = api.upload(path, {"file": media.image((800, 1000)).open("rb")})
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "validated" and created.json()["kind"] == "image"
    refused = api.upload(path, {"file": SimpleUploadedFile("notes.jpg", b"not an image at all")})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "file_refused"
    assert api.upload(path, {}).status_code == 422


def test_an_upload_too_large_is_refused_from_its_headers(api, verified_group, settings):
    settings.ASSET_UPLOAD_MAX_BYTES = 1000
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api.upload(
        f"/api/v1/groups/grp_{verified_group.pk}/assets",
        {"file": SimpleUploadedFile("big.jpg", b"x" * 100_000)},
    )
    assert response.status_code == 413 and response.json()["error"]["field"] == "file"
    assert not Asset.objects.exists()


def test_delete_removes_the_asset_and_records_the_key(api, verified_group, media, simulator):
    created = api.upload(
        f"/api/v1/groups/grp_{verified_group.pk}/assets",
        {"file": media.image((800, 1000)).open("rb")},
    ).json()
    deleted = api.delete(f"/api/v1/assets/{created['id']}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    assert AuditEvent.objects.get(action="asset.deleted").actor_label.startswith("api-key_")


def test_a_repeated_post_with_the_same_idempotency_key_returns_the_first_answer(api):
    first = api.post("/api/v1/persons", {"full_name": "Jane Doe"}, **{"Idempotency-Key": "k1"})
    again = api.post("/api/v1/persons", {"full_name": "Jane Doe"}, **{"Idempotency-Key": "k1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert AuthorizingPerson.objects.count() == 1
    other = api.post("/api/v1/persons", {"full_name": "Someone Else"}, **{"Idempotency-Key": "k1"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert (
        api.post(
            "/api/v1/persons", {"full_name": "Jane Doe"}, **{"Idempotency-Key": "k2"}
        ).status_code
        == 201
    )
    assert AuthorizingPerson.objects.count() == 2


def test_the_schema_is_public_and_the_docs_page_is_for_staff(client, staff_client):
    assert client.get("/api/v1/openapi.json").json()["openapi"].startswith("3.")
    assert client.get("/api/v1/docs").status_code == 302
    page = staff_client.get("/api/v1/docs")
    assert page.status_code == 200 and b"swagger" in page.content.lower()
    assert b"cdn" not in page.content.lower()  # served from the portal itself
    from django.contrib.staticfiles import finders

    assert finders.find("ninja/swagger-ui-bundle.js")  # collected with the portal's own files


def test_an_idempotency_key_is_forgotten_after_24_hours(api):
    import time_machine
    from django.utils import timezone

    from integrations.api.idempotency import expired_before

    api.post("/api/v1/persons", {"full_name": "Jane Doe"}, **{"Idempotency-Key": "k"})
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        again = api.post("/api/v1/persons", {"full_name": "Jane Doe"}, **{"Idempotency-Key": "k"})
        assert again.status_code == 201 and "Idempotent-Replayed" not in again
        assert AuthorizingPerson.objects.count() == 2
    with time_machine.travel(timezone.now() + timedelta(hours=50)):
        assert expired_before() == 1

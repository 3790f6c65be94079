import pytest

from ledger.models import AuditEvent
from verification import services
from verification.models import AuthorizingPerson, Invitation, VerificationSession

pytestmark = pytest.mark.django_db


def test_staff_add_a_person_and_the_ledger_records_it(staff_client):
    response = staff_client.post(
        "/persons/new/",
        {
            "full_name": "  Li   Wei ",
            "email": "li@example.com",
            "phone": "+86 138 0013 8000",
            "language": "zh-hans",
        },
    )
    person = AuthorizingPerson.objects.get()
    assert response["Location"] == f"/persons/{person.pk}/"
    assert (person.full_name, person.phone) == ("Li Wei", "+8613800138000")
    assert AuditEvent.objects.filter(action="person.created", person_id=person.pk).exists()


def test_a_phone_number_not_in_international_form_is_explained(staff_client):
    response = staff_client.post(
        "/persons/new/", {"full_name": "Li Wei", "phone": "0138 0013", "language": "en"}
    )
    assert response.status_code == 200
    assert b"international form" in response.content
    assert not AuthorizingPerson.objects.exists()


def test_edit_keeps_what_was_saved_when_the_input_is_wrong(staff_client, person):
    response = staff_client.post(f"/persons/{person.pk}/edit/", {"full_name": "", "language": "en"})
    assert response.status_code == 200 and b"This field is required" in response.content
    person.refresh_from_db()
    assert person.full_name == "Jane Doe"


def test_the_person_list_searches_and_filters_by_latest_status(
    staff_client, person, account, project, consent_text
):
    AuthorizingPerson.objects.create(full_name="Bob Stone", email="bob@example.com")
    VerificationSession.objects.create(
        person=person,
        account=account,
        project=project,
        consent_text=consent_text,
        channel="email",
        status="verified",
    )
    assert b"Bob Stone" not in staff_client.get("/persons/?q=jane").content
    assert b"Jane Doe" in staff_client.get("/persons/?q=jane").content
    verified = staff_client.get("/persons/?status=verified").content
    assert b"Jane Doe" in verified and b"Bob Stone" not in verified
    never = staff_client.get("/persons/?status=none").content
    assert b"Bob Stone" in never and b"Jane Doe" not in never
    partial = staff_client.get("/persons/?q=bob", headers={"HX-Request": "true"})
    assert b"<table" in partial.content and b"<html" not in partial.content


def test_email_cannot_be_chosen_for_a_person_without_an_address(
    staff_client, account, project, consent_text
):
    person = AuthorizingPerson.objects.create(full_name="No Mail")
    response = staff_client.post(
        f"/persons/{person.pk}/verify/",
        {
            "account": account.pk,
            "project": project.pk,
            "consent_text": consent_text.pk,
            "media_kinds": ["image"],
            "channel": "email",
        },
    )
    assert response.status_code == 200
    assert b"has no email address" in response.content
    assert not VerificationSession.objects.exists()


def test_in_person_shows_a_qr_code_and_a_link_once(
    staff_client, person, account, project, consent_text, phone
):
    response = staff_client.post(
        f"/persons/{person.pk}/verify/",
        {
            "account": account.pk,
            "project": project.pk,
            "consent_text": consent_text.pk,
            "media_kinds": ["image", "video"],
            "channel": "in_person",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"<svg" in response.content and response["Cache-Control"] == "no-store"
    link = response.context["link"]
    assert phone.get(link.replace("http://127.0.0.1:8000", "")).status_code == 200


def test_the_status_fragment_stops_htmx_polling_once_the_session_is_over(
    staff_client, person, account, project, consent_text
):
    session = VerificationSession.objects.create(
        person=person, account=account, project=project, consent_text=consent_text, channel="email"
    )
    live = staff_client.get(f"/sessions/{session.pk}/status/", headers={"HX-Request": "true"})
    assert live.status_code == 200 and b'hx-trigger="every 500ms"' in live.content
    session.move("created", "verified")
    done = staff_client.get(f"/sessions/{session.pk}/status/", headers={"HX-Request": "true"})
    assert done.status_code == 286


def test_people_who_are_not_staff_see_no_staff_page(client, django_user_model, person):
    user = django_user_model.objects.create_user(username="visitor", password="x" * 16)
    client.force_login(user)
    assert client.get(f"/persons/{person.pk}/").status_code == 403
    client.logout()
    assert client.get(f"/persons/{person.pk}/").status_code == 302


def test_a_failed_email_is_visible_and_can_be_retried(
    staff_client, staff_user, person, account, project, consent_text, settings
):
    settings.MAILERS = {"default": {"BACKEND": "tests.verification.failing_mail.RefusingBackend"}}
    session = services.start_session(
        person=person,
        account_id=account.pk,
        project=project,
        consent_text=consent_text,
        media_kinds=["image"],
        channel="email",
        user=staff_user,
    )
    invitation = session.invitations.get()
    services.deliver_invitation(invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.FAILED
    assert "did not accept" in invitation.error
    page = staff_client.get(f"/sessions/{session.pk}/")
    assert b"did not accept" in page.content and b"Send a new link" in page.content
    assert AuditEvent.objects.filter(action="invitation.failed").exists()

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    staff_client.post(f"/sessions/{session.pk}/resend/")
    services.deliver_invitation(invitation_id=session.invitations.latest("created_at").pk)
    assert session.invitations.latest("created_at").status == Invitation.Status.SENT


def test_staff_can_send_only_a_few_links_an_hour(start_by_email, staff_client, settings):
    settings.INVITATIONS_PER_SESSION_PER_HOUR = 2
    session, _ = start_by_email()
    assert staff_client.post(f"/sessions/{session.pk}/resend/").status_code == 302
    page = staff_client.post(f"/sessions/{session.pk}/resend/", follow=True)
    assert session.invitations.count() == 2
    assert b"The next can be sent at" in page.content

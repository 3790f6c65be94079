"""Links staff show in the room: one open session per person and project, a QR page that can be
reloaded without making another session or link, and a warning before a sent link is replaced."""

import pytest

from verification.models import Invitation, VerificationSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def start_in_person(staff_client, person, account, project, consent_text):
    def start():
        return staff_client.post(
            f"/persons/{person.pk}/verify/",
            {
                "account": account.pk,
                "project": project.pk,
                "consent_text": consent_text.pk,
                "media_kinds": ["image"],
                "channel": "in_person",
            },
        )

    return start


def test_the_in_person_qr_page_survives_a_reload(start_in_person, staff_client, person):
    started = start_in_person()
    session = VerificationSession.objects.get(person=person)
    assert started.status_code == 302
    assert started["Location"] == f"/sessions/{session.pk}/link/"
    first = staff_client.get(started["Location"])
    again = staff_client.get(started["Location"])
    assert first.status_code == again.status_code == 200
    assert first["Cache-Control"] == "no-store"
    link = first.context["link"]
    assert again.context["link"] == link
    assert VerificationSession.objects.filter(person=person).count() == 1
    assert Invitation.objects.filter(session=session).count() == 1
    assert first.context["link"].endswith("/")


def test_starting_again_points_at_the_open_session(start_in_person, person):
    start_in_person()
    session = VerificationSession.objects.get(person=person)
    again = start_in_person()
    assert again.status_code == 200
    page = again.content.decode()
    assert "already has an open verification for this project" in page
    assert f'href="/sessions/{session.pk}/"' in page
    assert VerificationSession.objects.filter(person=person).count() == 1


def test_a_cancelled_session_does_not_block_a_new_one(start_in_person, staff_client, person):
    start_in_person()
    session = VerificationSession.objects.get(person=person)
    staff_client.post(
        f"/sessions/{session.pk}/cancel/", {"confirmed": "yes", "reason": "Wrong person"}
    )
    assert start_in_person().status_code == 302
    assert VerificationSession.objects.filter(person=person).count() == 2


def test_the_service_refuses_a_second_open_session(
    start_in_person, person, account, project, consent_text, staff_user
):
    from verification import services

    start_in_person()
    with pytest.raises(services.OpenSessionExists):
        services.start_session(
            person=person,
            account_id=account.pk,
            project=project,
            consent_text=consent_text,
            media_kinds=["image"],
            channel="in_person",
            user=staff_user,
        )


def test_a_replaced_link_is_no_longer_shown(start_in_person, staff_client, person):
    start_in_person()
    session = VerificationSession.objects.get(person=person)
    staff_client.post(f"/sessions/{session.pk}/show-link/")  # a newer link, shown instead
    newest = staff_client.get(f"/sessions/{session.pk}/link/").context["link"]
    Invitation.objects.filter(session=session).update(revoked_at="2026-01-01T00:00:00Z")
    gone = staff_client.get(f"/sessions/{session.pk}/link/")
    assert gone.status_code == 302 and gone["Location"] == f"/sessions/{session.pk}/"
    assert newest not in staff_client.get(gone["Location"]).content.decode()


def test_another_staff_browser_is_not_shown_the_link(start_in_person, person, staff_user):
    from django.test import Client

    start_in_person()
    session = VerificationSession.objects.get(person=person)
    other = Client()
    other.force_login(staff_user)
    assert other.get(f"/sessions/{session.pk}/link/").status_code == 302


# --- Bug 5: replacing a link that was sent ----------------------------------------------------


def test_showing_a_link_for_an_emailed_session_warns_first(start_by_email, staff_client):
    session, _ = start_by_email()
    page = staff_client.get(f"/sessions/{session.pk}/")
    assert f'href="/sessions/{session.pk}/link/choose/"' in page.content.decode()
    asked = staff_client.post(f"/sessions/{session.pk}/show-link/")
    assert asked.status_code == 302 and asked["Location"] == f"/sessions/{session.pk}/link/choose/"
    assert session.invitations.usable().count() == 1  # the emailed link still works
    choice = staff_client.get(asked["Location"]).content.decode()
    assert "stops every earlier link of this session from working" in choice
    assert "jane@example.com" in choice and "open that message on their phone" in choice
    made = staff_client.post(f"/sessions/{session.pk}/show-link/", {"replace": "yes"})
    assert made.status_code == 302 and made["Location"] == f"/sessions/{session.pk}/link/"
    assert session.invitations.usable().count() == 1
    assert session.invitations.usable().get().channel == "in_person"

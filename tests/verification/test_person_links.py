"""Every link and button on a person page leads somewhere true: no 405s, the right reason a link
stopped working, and the language the person chose kept for the whole visit."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.utils import timezone, translation

from tests.journey import consent_and_start, latest_attempt, link_in_last_message
from tests.journey import run_pending_invitations as deliver
from verification.models import VerificationSession

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    translation.activate("en")


# --- Bug 1: a language link on the answer to a POST ------------------------------------------


def test_choosing_a_language_after_a_wrong_name_goes_back_to_the_link_page(start_by_email, phone):
    _, link = start_by_email()
    wrong = phone.post(f"{link}consent/", {"signature_name": "Someone Else", "agree": "on"})
    assert wrong.status_code == 400
    # The page's language links are relative: on this answer they point at the consent URL.
    assert 'href="?lang=zh-hans"' in wrong.content.decode()
    switched = phone.get(f"{link}consent/?lang=zh-hans")
    assert switched.status_code == 302
    assert switched["Location"] == f"{link}?lang=zh-hans"
    page = phone.get(switched["Location"])
    assert page.status_code == 200 and "请求您的同意" in page.content.decode()


@pytest.mark.parametrize("step", ["consent/", "start/", "renew/"])
def test_no_post_only_person_url_answers_a_get_with_405(start_by_email, phone, step):
    _, link = start_by_email()
    response = phone.get(f"{link}{step}")
    assert response.status_code == 302 and response["Location"] == link


def test_reloading_the_retry_button_goes_back_to_the_callback_page(start_by_email, phone):
    session, link = start_by_email()
    consent_and_start(phone, link)
    ref = latest_attempt(session).ref
    response = phone.get(f"/verified/{ref}/retry/")
    assert response.status_code == 302 and response["Location"] == f"/verified/{ref}/"


# --- Bug 3: each way a link stops working has its own sentence --------------------------------


def test_a_cancelled_sessions_link_says_the_studio_cancelled(start_by_email, staff_client, phone):
    session, link = start_by_email()
    staff_client.post(
        f"/sessions/{session.pk}/cancel/", {"confirmed": "yes", "reason": "Wrong person"}
    )
    page = phone.get(link)
    assert page.status_code == 410
    assert b"The studio cancelled this request" in page.content
    assert b"newer link" not in page.content


def test_a_replaced_link_says_a_newer_one_was_sent(start_by_email, staff_client, phone):
    session, link = start_by_email()
    staff_client.post(f"/sessions/{session.pk}/resend/")
    page = phone.get(link)
    assert page.status_code == 410 and b"A newer link was sent" in page.content


def test_an_expired_sessions_link_says_it_ran_out_of_time(start_by_email, phone):
    session, link = start_by_email()
    VerificationSession.objects.filter(pk=session.pk).update(status="expired")
    page = phone.get(link)
    assert page.status_code == 410 and b"This request ran out of time" in page.content
    assert b"Send me a new link" not in page.content


def test_an_expired_link_offers_a_new_one(start_by_email, phone):
    _, link = start_by_email()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        page = phone.get(link)
    assert page.status_code == 410 and b"Send me a new link" in page.content


# --- Bug 4: the chosen language holds for the visit and reaches the liveness page ------------


def test_the_chosen_language_holds_on_the_next_pages(start_by_email, phone, person):
    _, link = start_by_email()
    assert "请求您的同意" in phone.get(f"{link}?lang=zh-hans").content.decode()
    again = phone.get(link)  # no ?lang: the choice is remembered
    assert '<html lang="zh-hans">' in again.content.decode()
    h5 = consent_and_start(phone, link)
    assert parse_qs(urlsplit(h5).query)["lng"] == ["zh"]
    person.refresh_from_db()
    assert person.language == "en"  # the person's record is theirs to keep; only the visit changed


def test_the_chosen_language_reaches_withdrawal(verified_session_link, phone):
    link = verified_session_link
    phone.get(f"{link}?lang=zh-hant")
    page = phone.get(f"{link}withdraw/").content.decode()
    assert '<html lang="zh-hant">' in page


@pytest.fixture
def verified_session_link(start_by_email, phone, simulator):
    from tests.journey import callback_path

    session, link = start_by_email()
    consent_and_start(phone, link)
    phone.get(callback_path(simulator.complete(latest_attempt(session).byted_token)))
    session.refresh_from_db()
    assert session.status == "verified"
    return link


def test_a_staff_link_shown_later_still_works(start_by_email, staff_client, phone):
    """Guard for the reordering: a link that is neither cancelled nor replaced still opens."""
    session, _ = start_by_email()
    staff_client.post(f"/sessions/{session.pk}/resend/")
    deliver()
    assert phone.get(link_in_last_message()).status_code == 200

"""A consent is the person's own: not given in a browser signed in as staff; an in-person link names
who showed it; and on a group verified before, the person proves it is them with a code sent to
their own address (or a fresh liveness check), which staff never see."""

import io
import json
import logging
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone, translation
from pypdf import PdfReader

from assets import services as asset_services
from ledger.models import AuditEvent
from tests.journey import PHONE, code_in_last_message, link_in_last_message, run_pending_invitations
from verification import receipts, services
from verification.models import Consent, ConsentCode, Project, VerificationSession

pytestmark = pytest.mark.django_db
Status = VerificationSession.Status
CONSENT = {"signature_name": "Jane Doe", "agree": "on"}


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    translation.activate("en")


# --- A browser signed in as staff ---------------------------------------------------------------


def test_a_staff_browser_is_told_it_cannot_consent_and_its_post_is_refused(
    start_by_email, staff_client
):
    session, link = start_by_email()
    page = staff_client.get(link)
    assert page.status_code == 200
    assert b"This browser is signed in as studio staff" in page.content
    # Nor is staff looking at it the person opening it.
    assert not AuditEvent.objects.filter(action="invitation.opened").exists()
    session.refresh_from_db()
    assert session.status == Status.INVITED
    assert b'name="signature_name"' not in page.content
    refused = staff_client.post(f"{link}consent/", CONSENT)
    assert refused.status_code == 403
    assert b"consent can&#x27;t be given here" in refused.content
    assert not Consent.objects.exists()
    session.refresh_from_db()
    assert session.status not in (Status.CONSENTED, Status.VERIFIED)


@pytest.mark.parametrize(
    ("language", "words"),
    [("zh-hans", "此浏览器已以工作室员工身份登录"), ("zh-hant", "此瀏覽器已以工作室員工身分登入")],
)
def test_the_staff_browser_notice_is_in_the_persons_language(
    start_by_email, staff_client, person, language, words
):
    person.language = language
    person.save(update_fields=["language"])
    _, link = start_by_email()
    assert words in staff_client.get(link).content.decode()
    assert words in staff_client.post(f"{link}consent/", CONSENT).content.decode()


def test_any_signed_in_account_is_refused_not_only_staff(start_by_email, django_user_model):
    _, link = start_by_email()
    member = Client(HTTP_USER_AGENT=PHONE)
    member.force_login(django_user_model.objects.create_user(username="m", password="x" * 16))
    assert member.post(f"{link}consent/", CONSENT).status_code == 403
    assert not Consent.objects.exists()


def test_a_staff_browser_cannot_withdraw_through_the_persons_link(
    start_by_email, phone, staff_client
):
    _, link = start_by_email()
    phone.post(f"{link}consent/", CONSENT)
    refused = staff_client.post(f"{link}withdraw/")
    assert refused.status_code == 403 and b"use the staff pages" in refused.content
    assert Consent.objects.get().withdrawn_at is None


# --- In person: who showed the link -------------------------------------------------------------


def test_an_in_person_consent_names_who_showed_the_link_and_on_what(
    staff_client, staff_user, person, account, project, consent_text, phone
):
    staff_user.first_name, staff_user.last_name = "Mei", "Lin"
    staff_user.save()
    session = services.start_session(
        person=person,
        account_id=account.pk,
        project=project,
        consent_text=consent_text,
        media_kinds=["image"],
        channel="in_person",
        user=staff_user,
    )
    shown = staff_client.post(
        f"/sessions/{session.pk}/show-link/",
        headers={"User-Agent": "StudioTablet/1.0"},
        follow=True,
    )
    link = "/" + shown.context["link"].split("/", 3)[3]
    phone.post(f"{link}consent/", CONSENT)
    consent = Consent.objects.get()
    assert (consent.shown_by, consent.shown_by_name) == (staff_user, "Mei Lin")
    assert consent.shown_on == "StudioTablet/1.0"
    given = AuditEvent.objects.get(action="consent.given")
    assert given.actor_kind == "person"
    assert given.payload["in_person_shown_by"] == {"id": staff_user.pk, "name": "Mei Lin"}
    assert AuditEvent.objects.get(action="invitation.shown").payload["shown_on"] == (
        "StudioTablet/1.0"
    )

    built = receipts.build_receipt(consent)
    assert built["consent"]["collection"]["in_person"] == {
        "shown_by": "Mei Lin",
        "shown_on": "StudioTablet/1.0",
    }
    pdf = phone.get(f"{link}receipt.pdf").content
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Consent given in person, shown by Mei Lin" in text
    assert "Consent given in person, shown by Mei Lin." in phone.get(link).content.decode()
    staff_page = staff_client.get(f"/persons/{person.pk}/").content.decode()
    assert "given in person, shown by Mei Lin" in staff_page
    assert json.loads(phone.get(f"{link}receipt.json").content)["consent"]["collection"][
        "in_person"
    ]["shown_by"] == ("Mei Lin")


def test_a_link_sent_by_email_says_nothing_about_in_person(start_by_email, phone):
    _, link = start_by_email()
    phone.post(f"{link}consent/", CONSENT)
    consent = Consent.objects.get()
    assert consent.shown_by is None and consent.shown_by_name == ""
    assert receipts.build_receipt(consent)["consent"]["collection"]["in_person"] is None
    assert b"shown by" not in phone.get(link).content


# --- A new project on a group verified before ---------------------------------------------------


@pytest.fixture
def second_link(verified_group, staff_user, consent_text):
    """Staff start a session for a second project for a person already verified."""

    def start() -> tuple[VerificationSession, str]:
        spring = Project.objects.create(name="Spring campaign", intended_use="Spring ads.")
        session = services.start_session(
            person=verified_group.person,
            account_id=verified_group.account_id,
            project=spring,
            consent_text=consent_text,
            media_kinds=["image"],
            channel="email",
            user=staff_user,
        )
        run_pending_invitations()
        return session, link_in_last_message()

    return start


def test_a_reused_group_waits_for_the_code_sent_to_the_persons_own_address(
    second_link, verified_group, phone, caplog
):
    session, link = second_link()
    assert session.consent_proof == "code"
    caplog.set_level(logging.DEBUG)
    assert phone.post(f"{link}consent/", CONSENT).status_code == 302
    session.refresh_from_db()
    assert session.status == Status.CONSENTED and session.awaits_code
    # Not yet bound: nothing can be uploaded under it, and no liveness is offered instead.
    assert [c.project.name for c in asset_services.active_consents(verified_group)] == [
        "Winter campaign"
    ]
    assert phone.post(f"{link}start/").status_code == 409
    message = mail.outbox[-1]
    assert message.to == ["jane@example.com"]
    code = code_in_last_message()
    # Stored keyed-hashed only; never in the ledger or the log.
    stored = ConsentCode.objects.get(session=session)
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    for event in AuditEvent.objects.all():
        assert code not in json.dumps(event.payload)
    assert code not in caplog.text

    page = phone.get(link).content.decode()
    assert "enter the code we sent you" in page and "email address on file" in page
    assert code not in page
    wrong = "000000" if code != "000000" else "111111"
    missed = phone.post(f"{link}code/", {"code": wrong})
    assert missed.status_code == 400 and "You can try 4 more times" in missed.content.decode()
    assert phone.post(f"{link}code/", {"code": f" {code[:3]} {code[3:]} "}).status_code == 302
    session.refresh_from_db()
    assert session.status == Status.VERIFIED
    reused = AuditEvent.objects.get(action="verification.group_reused")
    assert reused.actor_kind == "person"
    assert reused.payload["consent_proof"] == "code" and reused.payload["channel"] == "email"
    given = AuditEvent.objects.filter(action="consent.given").latest("seq")
    assert given.payload["consent_proof"] == "code"
    assert "Spring campaign" in [
        c.project.name for c in asset_services.active_consents(verified_group)
    ]
    # Sent again (a double tap, a reload): the person's page, not an error.
    assert phone.post(f"{link}code/", {"code": code}).status_code == 302
    assert ConsentCode.objects.get(session=session).used_at is not None


def test_wrong_codes_run_out_and_a_new_code_starts_afresh(second_link, phone, settings):
    session, link = second_link()
    phone.post(f"{link}consent/", CONSENT)
    first = code_in_last_message()
    wrong = "000000" if first != "000000" else "111111"
    for _ in range(settings.CONSENT_CODE_ATTEMPTS):
        phone.post(f"{link}code/", {"code": wrong})
    locked = phone.post(f"{link}code/", {"code": first})
    assert locked.status_code == 400 and "Too many wrong codes" in locked.content.decode()
    session.refresh_from_db()
    assert session.status == Status.CONSENTED
    assert phone.post(f"{link}code/resend/").status_code == 302
    second = code_in_last_message()
    if second != first:
        assert phone.post(f"{link}code/", {"code": first}).status_code == 400
    assert phone.post(f"{link}code/", {"code": second}).status_code == 302
    session.refresh_from_db()
    assert session.status == Status.VERIFIED


def test_codes_expire_and_sending_is_limited(second_link, phone, settings):
    _, link = second_link()
    phone.post(f"{link}consent/", CONSENT)  # the first code
    code = code_in_last_message()
    with time_machine.travel(timezone.now() + settings.CONSENT_CODE_TTL + timedelta(seconds=1)):
        expired = phone.post(f"{link}code/", {"code": code})
    assert expired.status_code == 400 and "This code has expired" in expired.content.decode()
    for _ in range(settings.CONSENT_CODE_SENDS - 1):
        assert phone.post(f"{link}code/resend/").status_code == 302
    sent = len(mail.outbox)
    limited = phone.post(f"{link}code/resend/")
    assert limited.status_code == 429 and "No more codes can be sent" in limited.content.decode()
    assert len(mail.outbox) == sent


def test_the_code_form_speaks_chinese(second_link, phone, verified_group):
    person = verified_group.person
    person.language = "zh-hant"
    person.save(update_fields=["language"])
    _, link = second_link()
    phone.post(f"{link}consent/", CONSENT)
    page = phone.get(link).content.decode()
    assert "確認是您本人" in page and "驗證碼" in page
    assert "驗證碼" in mail.outbox[-1].subject
    assert "您還可以再試 4 次" in phone.post(f"{link}code/", {"code": "abc"}).content.decode()


def test_a_staff_browser_cannot_enter_the_code(second_link, phone, staff_client):
    session, link = second_link()
    phone.post(f"{link}consent/", CONSENT)
    code = code_in_last_message()
    assert staff_client.post(f"{link}code/", {"code": code}).status_code == 403
    session.refresh_from_db()
    assert session.status == Status.CONSENTED


def test_with_liveness_as_the_proof_a_new_project_verifies_afresh(
    second_link, phone, settings, simulator
):
    settings.REUSED_GROUP_CONSENT_PROOF = "liveness"
    session, link = second_link()
    assert session.consent_proof == "liveness" and session.upstream_group_id == ""
    created = AuditEvent.objects.filter(action="session.created").latest("seq").payload
    assert created["consent_proof"] == "liveness" and created["verified_before"]
    response = phone.post(f"{link}consent/", CONSENT)
    assert response.status_code == 302 and response["Location"].startswith(simulator.url)
    session.refresh_from_db()
    assert session.status == Status.VERIFYING
    assert not ConsentCode.objects.exists()


def test_a_contact_changed_since_the_verification_means_liveness(
    second_link, verified_group, staff_client
):
    person = verified_group.person
    staff_client.post(
        f"/persons/{person.pk}/edit/",
        {"full_name": person.full_name, "email": "staff@example.com", "language": "en"},
    )
    session, _ = second_link()
    assert session.consent_proof == "liveness" and session.upstream_group_id == ""


def test_a_staff_browser_cannot_start_the_liveness_check(start_by_email, phone, staff_client):
    session, link = start_by_email()
    phone.post(f"{link}consent/", CONSENT)  # the person consented on their phone
    page = staff_client.get(link)
    assert b"This browser is signed in as studio staff" in page.content
    assert f'action="{link}start/"'.encode() not in page.content
    assert staff_client.post(f"{link}start/").status_code == 403
    attempt = session.attempts.get()  # only the phone's
    retried = staff_client.post(f"/verified/{attempt.ref}/retry/")  # this browser opened the link
    assert retried.status_code == 403 and b"studio staff" in retried.content
    assert session.attempts.count() == 1

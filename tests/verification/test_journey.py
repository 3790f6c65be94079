"""The verification journey end to end through the views, against the simulator over HTTP."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from assets.models import AssetGroup
from ledger.models import AuditEvent
from tests.journey import callback_path, consent_and_start, latest_attempt
from verification import liveness
from verification.models import Consent, Invitation, LivenessAttempt, VerificationSession

pytestmark = pytest.mark.django_db
Status = VerificationSession.Status


def test_the_invitation_carries_the_portals_own_link_never_the_upstream_one(
    start_by_email, simulator
):
    session, link = start_by_email()
    message = mail.outbox[-1]
    assert message.to == ["jane@example.com"]
    assert "Winter campaign" in message.subject
    assert isinstance(message, EmailMultiAlternatives)
    assert link in str(message.alternatives[0][0])  # the HTML body has the same link
    assert simulator.url not in message.body and "/h5/" not in message.body
    invitation = session.invitations.get()
    assert invitation.status == Invitation.Status.SENT
    assert len(invitation.token_hash) == 64 and invitation.token_hash not in message.body
    session.refresh_from_db()
    assert session.status == Status.INVITED


def test_opening_the_link_shows_the_consent_and_starts_nothing(start_by_email, phone, simulator):
    session, link = start_by_email()
    page = phone.get(link)
    assert page.status_code == 200
    assert b"Winter campaign" in page.content
    assert session.consent_text.body.encode() in page.content
    assert page["Referrer-Policy"] == "same-origin"
    session.refresh_from_db()
    assert session.status == Status.OPENED
    assert not Consent.objects.exists() and not session.attempts.exists()
    assert simulator.requests_for("CreateVisualValidateSession") == []
    phone.get(link)
    assert AuditEvent.objects.filter(action="invitation.opened").count() == 1


def test_consent_liveness_and_callback_verify_the_person(start_by_email, phone, simulator):
    session, link = start_by_email()
    phone.get(link)
    h5_link = consent_and_start(phone, link)
    assert h5_link.startswith(simulator.url) and "lng=en" in h5_link

    consent = Consent.objects.get()
    assert consent.text_sha256 == session.consent_text.sha256
    assert consent.ip == "203.0.113.7" and "iPhone" in consent.user_agent
    assert consent.media_kinds == ["image", "video", "audio"]

    attempt = latest_attempt(session)
    callback = simulator.complete(attempt.byted_token)
    page = phone.get(callback_path(callback))
    assert page.status_code == 200
    assert b"you are verified" in page.content

    session.refresh_from_db()
    assert session.status == Status.VERIFIED
    assert session.upstream_group_id.startswith("group-")
    group = AssetGroup.objects.get()
    assert (group.upstream_id, group.person_id, group.account_id) == (
        session.upstream_group_id,
        session.person_id,
        session.account_id,
    )
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    for expected in (
        "session.created",
        "invitation.sent",
        "invitation.opened",
        "consent.given",
        "verification.started",
        "verification.completed",
        "group.stored",
    ):
        assert expected in actions


def test_the_staff_member_is_told_when_the_session_ends(
    start_by_email, phone, simulator, staff_client, staff_user, django_capture_on_commit_callbacks
):
    staff_user.email = "staff@example.com"
    staff_user.save()
    session, link = start_by_email()
    consent_and_start(phone, link)
    with django_capture_on_commit_callbacks(execute=True):
        phone.get(callback_path(simulator.complete(latest_attempt(session).byted_token)))
    assert mail.outbox[-1].to == ["staff@example.com"]
    assert "Jane Doe is verified" in mail.outbox[-1].subject
    assert b"Jane Doe is verified" in staff_client.get("/").content


def test_a_callback_claiming_success_is_not_trusted_alone(start_by_email, phone, simulator):
    session, link = start_by_email()
    consent_and_start(phone, link)
    attempt = latest_attempt(session)
    page = phone.get(f"/verified/{attempt.ref}/?bytedToken={attempt.byted_token}&resultCode=10000")
    assert b"confirming" in page.content
    session.refresh_from_db()
    assert session.status == Status.VERIFYING


def test_a_new_link_revokes_the_old_one(start_by_email, staff_client, phone):
    session, old_link = start_by_email()
    with_resend = staff_client.post(f"/sessions/{session.pk}/resend/")
    assert with_resend.status_code == 302
    from tests.journey import link_in_last_message, run_pending_invitations

    run_pending_invitations()
    new_link = link_in_last_message()
    assert new_link != old_link
    gone = phone.get(old_link)
    assert gone.status_code == 410 and b"newer link" in gone.content
    assert phone.get(new_link).status_code == 200


def test_an_expired_link_says_what_to_do(start_by_email, phone):
    _, link = start_by_email()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        page = phone.get(link)
    assert page.status_code == 410
    assert b"has expired" in page.content and b"Send me a new link" in page.content


def test_unknown_links_are_refused_and_then_slowed_down(phone, settings, db):
    settings.LINK_FAILURES_ALLOWED = 3
    for _ in range(3):
        assert phone.get("/p/not-a-real-token/").status_code == 404
    throttled = phone.get("/p/another-guess/")
    assert throttled.status_code == 429 and b"Too many attempts" in throttled.content


def test_a_wrong_name_is_explained_and_nothing_is_stored(start_by_email, phone):
    _, link = start_by_email()
    response = phone.post(f"{link}consent/", {"signature_name": "Someone Else", "agree": "on"})
    assert response.status_code == 400
    assert "exactly as the studio has it: Jane Doe" in response.content.decode()
    assert not Consent.objects.exists()
    unticked = phone.post(f"{link}consent/", {"signature_name": "jane  DOE"})
    assert b"Tick the box" in unticked.content


def test_failed_liveness_then_retry_from_the_callback_page(start_by_email, phone, simulator):
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    failed = latest_attempt(session)
    page = phone.get(callback_path(simulator.complete(failed.byted_token, result_code=10001)))
    assert b"did not succeed" in page.content and b"Try again" in page.content
    session.refresh_from_db()
    assert session.status == Status.FAILED

    retried = phone.post(f"/verified/{failed.ref}/retry/")
    assert retried.status_code == 302 and retried["Location"].startswith(simulator.url)
    second = latest_attempt(session)
    assert second.pk != failed.pk
    phone.get(callback_path(simulator.complete(second.byted_token)))
    session.refresh_from_db()
    assert session.status == Status.VERIFIED


def test_a_stranger_cannot_retry_someone_elses_attempt(start_by_email, phone, simulator, client):
    session, link = start_by_email()
    consent_and_start(phone, link)
    attempt = latest_attempt(session)
    assert client.post(f"/verified/{attempt.ref}/retry/").status_code == 403


def test_a_forged_opened_cookie_does_not_allow_a_retry(start_by_email, phone, simulator, client):
    session, link = start_by_email()
    consent_and_start(phone, link)
    attempt = latest_attempt(session)
    client.cookies["sitter_opened"] = str(session.pk)  # unsigned
    assert client.post(f"/verified/{attempt.ref}/retry/").status_code == 403


def test_opening_a_link_again_is_one_query_and_writes_nothing(
    start_by_email, phone, django_assert_num_queries
):
    _, link = start_by_email()
    sessions = Session.objects.count()  # the staff member's
    phone.get(link)
    # The invitation with its session, person, project and text; no consent yet to look up.
    with django_assert_num_queries(1):
        assert phone.get(link).status_code == 200
    assert Session.objects.count() == sessions and "sessionid" not in phone.cookies


def test_the_sweep_finds_the_group_when_the_callback_is_lost(start_by_email, phone, simulator):
    session, link = start_by_email()
    consent_and_start(phone, link)
    simulator.complete(latest_attempt(session).byted_token)  # the phone never comes back
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        token, ids = liveness.claim_due_attempts()
        assert ids == [latest_attempt(session).pk]
        liveness.poll_attempt(attempt_id=ids[0], lease_token=token)
    session.refresh_from_db()
    assert session.status == Status.VERIFIED and AssetGroup.objects.count() == 1


def test_two_sweeps_at_once_never_poll_the_same_attempt(start_by_email, phone, simulator):
    session, link = start_by_email()
    consent_and_start(phone, link)
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        first_token, first = liveness.claim_due_attempts()
        second_token, second = liveness.claim_due_attempts()
        assert len(first) == 1 and second == []
        liveness.poll_attempt(attempt_id=first[0], lease_token=first_token)
        liveness.poll_attempt(attempt_id=first[0], lease_token=first_token)  # redelivered task
        liveness.poll_attempt(attempt_id=first[0], lease_token=second_token)
    assert len(simulator.requests_for("GetVisualValidateResult")) == 1
    attempt = latest_attempt(session)
    assert attempt.lease_until is None
    assert attempt.next_poll_at is not None and attempt.next_poll_at > timezone.now()


def test_an_attempt_nobody_finished_expires_and_the_person_can_start_again(
    start_by_email, phone, simulator, settings
):
    session, link = start_by_email()
    consent_and_start(phone, link)
    with time_machine.travel(
        timezone.now() + settings.LIVENESS_RESULT_WINDOW + timedelta(seconds=1)
    ):
        token, ids = liveness.claim_due_attempts()
        liveness.poll_attempt(attempt_id=ids[0], lease_token=token)
    assert latest_attempt(session).status == LivenessAttempt.Status.EXPIRED
    session.refresh_from_db()
    assert session.status == Status.CONSENTED
    assert phone.post(f"{link}start/").status_code == 302


def test_a_wrong_token_group_is_explained_to_staff_and_person(
    start_by_email, phone, account, simulator, staff_client
):
    account.api_token = simulator.aigc_token
    account.save()
    session, link = start_by_email()
    refused = phone.post(f"{link}consent/", {"signature_name": "Jane Doe", "agree": "on"})
    assert refused.status_code == 409
    assert b"Please contact the studio" in refused.content
    session.refresh_from_db()
    assert session.status == Status.CONSENTED
    assert "Byteplus-Direct" in session.last_error
    assert b"Byteplus-Direct" in staff_client.get(f"/sessions/{session.pk}/").content


def test_an_upstream_timeout_during_polling_is_recorded_and_retried(
    start_by_email, phone, simulator, settings
):
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    session, link = start_by_email()
    consent_and_start(phone, link)
    simulator.control(
        "POST",
        "faults",
        json={"action": "GetVisualValidateResult", "kind": "hang", "count": 10, "seconds": 3},
    )
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        token, ids = liveness.claim_due_attempts()
        liveness.poll_attempt(attempt_id=ids[0], lease_token=token)
    attempt = latest_attempt(session)
    assert attempt.status == LivenessAttempt.Status.PENDING
    assert attempt.last_error and attempt.lease_until is None
    session.refresh_from_db()
    assert "took too long to answer" in session.last_error


def test_cancelling_mid_way_closes_the_link_and_ignores_late_results(
    start_by_email, phone, simulator, staff_client
):
    session, link = start_by_email()
    consent_and_start(phone, link)
    attempt = latest_attempt(session)
    cancel = f"/sessions/{session.pk}/cancel/"
    assert staff_client.post(cancel).status_code == 200  # asks first
    assert (
        staff_client.post(cancel, {"confirmed": "yes", "reason": "Wrong person"}).status_code == 302
    )
    session.refresh_from_db()
    assert session.status == Status.CANCELLED
    assert phone.get(link).status_code == 410
    phone.get(callback_path(simulator.complete(attempt.byted_token)))
    session.refresh_from_db()
    assert session.status == Status.CANCELLED and not AssetGroup.objects.exists()

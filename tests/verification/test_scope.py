"""Scoped consent: a term, representation and guardian details; a new project reuses the group."""

from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from assets import services as asset_services
from ledger.models import AuditEvent
from tests.journey import code_in_last_message, link_in_last_message, run_pending_invitations
from verification import services
from verification.models import Consent, Project, VerificationSession

pytestmark = pytest.mark.django_db


def test_staff_set_a_term_and_the_person_gives_representation_and_guardian(
    staff_client, person, account, project, consent_text, phone
):
    term = timezone.now().date() + timedelta(days=365)
    staff_client.post(
        f"/persons/{person.pk}/verify/",
        {
            "account": account.pk,
            "project": project.pk,
            "consent_text": consent_text.pk,
            "media_kinds": ["image", "audio"],
            "channel": "email",
            "term_ends_on": term.isoformat(),
        },
    )
    run_pending_invitations()
    link = link_in_last_message()
    assert f"would end on {term:%Y-%m-%d}".encode() in phone.get(link).content
    missing = phone.post(
        f"{link}consent/",
        {"signature_name": "Jane Doe", "agree": "on", "guardian_name": "John Doe"},
    )
    assert missing.status_code == 400 and b"Say how the guardian is related" in missing.content
    phone.post(
        f"{link}consent/",
        {
            "signature_name": "Jane Doe",
            "agree": "on",
            "representation": "Equity union, +44 20 0000 0000",
            "guardian_name": "John Doe",
            "guardian_relationship": "father",
        },
    )
    consent = Consent.objects.get()
    assert consent.term_ends_on == term and consent.guardian_relationship == "father"
    assert consent.representation.startswith("Equity")
    given = AuditEvent.objects.get(action="consent.given").payload
    assert given["term_ends_on"] == term.isoformat() and given["guardian_name"] == "John Doe"
    with time_machine.travel(timezone.now() + timedelta(days=366)):
        assert not consent.is_active()


def test_a_term_in_the_past_is_refused(staff_client, person, account, project, consent_text):
    response = staff_client.post(
        f"/persons/{person.pk}/verify/",
        {
            "account": account.pk,
            "project": project.pk,
            "consent_text": consent_text.pk,
            "media_kinds": ["image"],
            "channel": "email",
            "term_ends_on": date(2020, 1, 1).isoformat(),
        },
    )
    assert b"must be a day after today" in response.content
    assert not VerificationSession.objects.exists()


def test_a_new_project_asks_only_for_consent_and_reuses_the_verified_group(
    verified_group, staff_user, consent_text, phone, simulator, media, staff_client, settings
):
    second = Project.objects.create(
        name="Spring campaign", intended_use="Spring ads, online, 6 months."
    )
    session = services.start_session(
        person=verified_group.person,
        account_id=verified_group.account_id,
        project=second,
        consent_text=consent_text,
        media_kinds=["image"],
        channel="email",
        user=staff_user,
    )
    assert session.upstream_group_id == verified_group.upstream_id
    run_pending_invitations()
    link = link_in_last_message()
    response = phone.post(f"{link}consent/", {"signature_name": "Jane Doe", "agree": "on"})
    assert response.status_code == 302 and response["Location"] == link
    session.refresh_from_db()
    assert session.awaits_code  # bound to the person: the code sent to their own address
    assert b"enter the code we sent you" in phone.get(link).content
    response = phone.post(f"{link}code/", {"code": code_in_last_message()})
    session.refresh_from_db()
    assert session.status == VerificationSession.Status.VERIFIED
    assert not session.attempts.exists()  # no liveness again
    assert len(simulator.requests_for("CreateVisualValidateSession")) == 1  # the first one only
    assert response.status_code == 302 and response["Location"] == link
    assert b"You are verified" in phone.get(link).content
    reused = AuditEvent.objects.get(action="verification.group_reused")
    assert reused.payload["consent_proof"] == "code" and reused.payload["channel"] == "email"
    newest = asset_services.active_consent(verified_group)
    assert newest is not None and newest.project == second

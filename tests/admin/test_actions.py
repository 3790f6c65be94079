"""Admin actions: resend (within the hourly limit), cancel, withdraw, re-check upstream, CSV."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from assets.models import Asset
from ledger.models import AuditEvent
from ledger.services import Actor
from tests.admin.conftest import STORED_TOKEN, make_world
from tests.journey import make_verified_group
from tests.upstream.media import voice
from upstream.factory import client_for
from upstream.types import AssetType, InlineSource
from verification import services
from verification.models import AuthorizingPerson, Consent, Invitation, VerificationSession

pytestmark = pytest.mark.django_db


def act(client, model, action: str, objects, **extra):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **extra}
    return client.post(url, data, follow=True)


def said(response) -> list[str]:
    """The messages the list page showed after the action (each shown once)."""
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def email_session(person, plain_account, project, consent_text, staff_user):
    return services.start_session(
        person=person,
        account_id=plain_account.pk,
        project=project,
        consent_text=consent_text,
        media_kinds=["image"],
        channel="email",
        user=staff_user,
    )


# --- Resend -------------------------------------------------------------------------------------


def test_resend_queues_a_new_link_and_revokes_the_old(admin_client, email_session):
    first = email_session.invitations.get()
    response = act(admin_client, VerificationSession, "resend_invitation", [email_session])
    assert response.status_code == 200
    assert said(response) == ["1 new link on the way."]
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert email_session.invitations.filter(revoked_at__isnull=True).count() == 1
    event = AuditEvent.objects.filter(action="invitation.queued").order_by("-seq").first()
    assert event and event.actor_kind == "staff"


def test_resends_stop_at_the_hourly_limit_with_a_clear_message(
    admin_client, email_session, settings
):
    settings.INVITATIONS_PER_SESSION_PER_HOUR = 3
    for _ in range(2):
        assert said(act(admin_client, VerificationSession, "resend_invitation", [email_session]))
    refused = act(admin_client, VerificationSession, "resend_invitation", [email_session])
    (message,) = said(refused)
    assert "3 links were already sent to Jane Doe in the last hour" in message
    assert "The next can be sent at" in message
    assert email_session.invitations.count() == 3
    later = datetime.now(UTC) + timedelta(minutes=61)
    with time_machine.travel(later):
        again = act(admin_client, VerificationSession, "resend_invitation", [email_session])
    assert said(again) == ["1 new link on the way."]


def test_resend_explains_in_person_and_closed_sessions(admin_client, email_session, staff_user):
    in_person = VerificationSession.objects.create(
        person=email_session.person,
        account=email_session.account,
        project=email_session.project,
        consent_text=email_session.consent_text,
        channel="in_person",
        created_by=staff_user,
    )
    services.cancel_session(
        session=email_session, actor=Actor.staff(staff_user), reason="the person moved away"
    )
    messages = said(
        act(admin_client, VerificationSession, "resend_invitation", [email_session, in_person])
    )
    assert any("in-person session" in text for text in messages)
    assert any("This session is cancelled" in text for text in messages)


# --- Cancel -------------------------------------------------------------------------------------


def test_cancel_closes_open_sessions_and_says_which_were_closed_already(
    admin_client, email_session, staff_user
):
    page = act(admin_client, VerificationSession, "cancel", [email_session])
    assert "Cancel these sessions" in page.text and "Jane Doe" in page.text
    no_reason = act(admin_client, VerificationSession, "cancel", [email_session], confirmed="yes")
    assert "the reason is kept" in no_reason.text
    email_session.refresh_from_db()
    assert email_session.status != "cancelled"
    response = act(
        admin_client,
        VerificationSession,
        "cancel",
        [email_session],
        confirmed="yes",
        reason="Asked by the person's agent",
    )
    assert said(response) == ["1 session cancelled."]
    email_session.refresh_from_db()
    assert email_session.status == "cancelled"
    assert not Invitation.objects.filter(session=email_session, revoked_at__isnull=True).exists()
    event = AuditEvent.objects.get(action="session.cancelled", actor_kind="staff")
    assert event.payload["reason"] == "Asked by the person's agent"
    again = act(admin_client, VerificationSession, "cancel", [email_session])
    assert "Nothing selected can be changed this way" in again.text


# --- Withdraw -----------------------------------------------------------------------------------


@pytest.fixture
def consents(plain_account, project, consent_text, staff_user) -> list[Consent]:
    persons = make_world(
        2, account=plain_account, project=project, consent_text=consent_text, user=staff_user
    )
    return list(Consent.objects.filter(person__in=persons).order_by("pk"))


def test_withdraw_asks_first_and_changes_nothing_until_confirmed(admin_client, consents):
    page = act(admin_client, Consent, "withdraw", consents)
    assert page.status_code == 200
    assert "Withdraw these consents on the person" in page.text
    assert "Person 0" in page.text and "Person 1" in page.text
    assert not Consent.objects.filter(withdrawn_at__isnull=False).exists()


def test_withdraw_on_the_persons_behalf_records_who_did_it(
    admin_client, consents, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = act(
            admin_client, Consent, "withdraw", consents[:1], confirmed="yes", reason="By phone"
        )
    assert response.redirect_chain
    assert said(response) == ["1 consent withdrawn; what they covered is being deleted."]
    consent = Consent.objects.get(pk=consents[0].pk)
    assert consent.withdrawn_at is not None
    assert Consent.objects.get(pk=consents[1].pk).withdrawn_at is None
    event = AuditEvent.objects.get(action="consent.withdrawn")
    assert (event.actor_kind, event.actor_label, event.subject_id) == (
        "staff",
        "admin",
        str(consent.pk),
    )
    assert event.payload["reason"] == "By phone" and event.payload["on_behalf"] is True
    assert len(queued) == 2  # the destruction task and a checkpoint, after the commit
    again = act(admin_client, Consent, "withdraw", consents, confirmed="yes", reason="By phone")
    assert said(again) == [
        "1 consent withdrawn; what they covered is being deleted. "
        "1 consent had already been withdrawn."
    ]


# --- Re-check upstream --------------------------------------------------------------------------


def test_recheck_asks_the_upstream_about_processing_assets(
    admin_client, person, account, project, consent_text, staff_user, simulator, tmp_path
):
    group = make_verified_group(person, account, project, consent_text, staff_user, simulator)
    upstream_id = client_for(account).create_asset(
        group_id=group.upstream_id,
        name="voice-1",
        asset_type=AssetType.AUDIO,
        source=InlineSource(voice(tmp_path / "voice.wav"), "audio/wav"),
    )
    processing = Asset.objects.create(
        group=group,
        kind="audio",
        original_name="voice.wav",
        upstream_name="voice-1",
        size_bytes=1,
        sha256="a" * 64,
        upstream_id=upstream_id,
        status=Asset.Status.PROCESSING,
        forwarded_at=datetime.now(UTC),
    )
    finished = Asset.objects.create(
        group=group,
        kind="audio",
        original_name="old.wav",
        upstream_name="voice-0",
        size_bytes=1,
        sha256="b" * 64,
        status=Asset.Status.REJECTED,
    )
    response = act(admin_client, Asset, "recheck_upstream", [processing, finished])
    messages = said(response)
    assert messages[0] == "Checked at the upstream: 1 active."
    assert "1 selected asset not processing upstream left as they are" in messages[1]
    processing.refresh_from_db()
    assert processing.status == Asset.Status.ACTIVE
    assert AuditEvent.objects.filter(action="asset.active", subject_id=str(processing.pk))


# --- CSV export ---------------------------------------------------------------------------------


def rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_export_streams_the_selected_rows_and_is_recorded(admin_client, consents):
    person = AuthorizingPerson.objects.get(full_name="Person 0")
    person.full_name = "=HYPERLINK(evil)"
    person.save()
    response = act(admin_client, AuthorizingPerson, "export_as_csv", [person])
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="authorizingperson-')
    header, *data = rows(response)
    assert header[:3] == ["id", "full_name", "email"]
    assert len(data) == 1
    assert data[0][1] == "'=HYPERLINK(evil)"  # a spreadsheet shows it, never runs it
    event = AuditEvent.objects.get(action="admin.exported")
    assert event.payload["model"] == "verification.authorizingperson"
    assert event.payload["rows"] == 1 and event.actor_kind == "staff"


def test_exports_of_every_list_work_and_never_carry_secrets(admin_client, consents):
    from django.contrib import admin

    exported = 0
    for model, model_admin in admin.site._registry.items():
        objects = list(model._default_manager.all()[:3])
        if not hasattr(model_admin, "export_fields") or not objects:
            continue
        response = act(admin_client, model, "export_as_csv", objects)
        text = b"".join(response.streaming_content)
        assert len(list(csv.reader(io.StringIO(text.decode())))) == len(objects) + 1, model
        assert STORED_TOKEN.encode() not in text, model
        assert b"kept-out-of-sight" not in text, model  # liveness callback refs
        exported += 1
    assert exported >= 12

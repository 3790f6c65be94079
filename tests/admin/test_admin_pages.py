"""Admin: every model is there, lists stay at a fixed number of queries, evidence is read-only,
and person and session pages show their timeline."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assets.models import Asset, AssetGroup
from ledger.checkpoints import write_checkpoint
from ledger.models import AuditEvent, LedgerCheckpoint, LedgerHead
from portal.models import Heartbeat
from tests.admin.conftest import make_world
from upstream.models import UpstreamCall
from verification.models import Consent, Invitation, LivenessAttempt, VerificationSession

pytestmark = pytest.mark.django_db
OUR_APPS = ("portal", "ledger", "upstream", "verification", "assets")
# Evidence: nobody adds, changes or deletes it through the admin.
EVIDENCE = [AuditEvent, LedgerCheckpoint, LedgerHead, Consent, UpstreamCall, Invitation]
EVIDENCE += [LivenessAttempt, Heartbeat]


@pytest.fixture
def world(plain_account, project, consent_text, staff_user):
    def build(count: int, start: int = 0):
        return make_world(
            count,
            account=plain_account,
            project=project,
            consent_text=consent_text,
            user=staff_user,
            start=start,
        )

    return build


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_every_model_of_the_portal_is_in_the_admin():
    missing = [
        model._meta.label
        for name in OUR_APPS
        for model in apps.get_app_config(name).get_models()
        if not admin.site.is_registered(model)
    ]
    assert missing == []


def test_every_list_renders_and_its_query_count_does_not_grow_with_rows(admin_client, world):
    world(2)
    write_checkpoint()
    registered = [model for model in admin.site._registry]
    first = {model: _queries(admin_client, changelist(model)) for model in registered}
    world(6, start=2)
    write_checkpoint()
    grown = {
        model._meta.label: (first[model], _queries(admin_client, changelist(model)))
        for model in registered
    }
    assert {label: n for label, n in grown.items() if n[0] != n[1]} == {}


def test_lists_filter_search_and_drill_down_by_date(admin_client, world):
    world(3)
    pages = [
        (VerificationSession, "?status=verified&q=Person+1"),
        (Asset, "?status=active&q=asset-2"),
        (Consent, "?withdrawn_at__isnull=True&q=Person"),
        (Invitation, "?channel=email"),
        (UpstreamCall, "?q=GetAsset"),
        (AssetGroup, "?q=group-1"),
    ]
    for model, query in pages:
        response = admin_client.get(changelist(model) + query)
        assert response.status_code == 200, (model, response.content[:300])
        assert 'aria-labelledby="date-hierarchy-label"' in response.text, model
    by_year = admin_client.get(changelist(VerificationSession) + "?created_at__year=2000")
    assert by_year.status_code == 200 and "0 verification sessions" in by_year.text


@pytest.mark.parametrize("model", EVIDENCE, ids=lambda m: m._meta.label)
def test_evidence_refuses_add_change_and_delete_on_the_server(admin_client, world, model):
    world(1)
    write_checkpoint()
    Heartbeat.objects.create(name="worker", beat_at="2026-01-01T00:00:00Z")
    obj = model._default_manager.order_by("pk").first()
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert admin_client.get(reverse(f"{name}_add")).status_code == 403
    assert admin_client.post(reverse(f"{name}_add"), {}).status_code == 403
    view = admin_client.get(reverse(f"{name}_change", args=[obj.pk]))
    assert view.status_code == 200 and 'name="_save"' not in view.text
    assert admin_client.post(reverse(f"{name}_change", args=[obj.pk]), {}).status_code == 403
    delete = reverse(f"{name}_delete", args=[obj.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    # Nor through the list's bulk delete, which isn't offered.
    admin_client.post(
        changelist(model),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert model._default_manager.filter(pk=obj.pk).exists()


def test_a_persons_page_shows_their_timeline_sessions_and_consents(admin_client, world):
    (person,) = world(1)
    response = admin_client.get(
        reverse("admin:verification_authorizingperson_change", args=[person.pk])
    )
    assert response.status_code == 200
    assert "person.created" in response.text  # the ledger timeline
    assert f"?person_id={person.pk}" in response.text  # every event, in the ledger's list
    assert "Winter campaign" in response.text  # the session and consent inlines


def test_a_sessions_page_shows_its_timeline_with_its_consents_events(
    admin_client, world, staff_user
):
    from ledger.services import Actor, record

    (person,) = world(1)
    session = VerificationSession.objects.get(person=person)
    consent = Consent.objects.get(session=session)
    record(action="session.created", actor=Actor.staff(staff_user), subject=session)
    record(action="consent.given", actor=Actor.person(person.pk), subject=consent)
    response = admin_client.get(
        reverse("admin:verification_verificationsession_change", args=[session.pk])
    )
    assert response.status_code == 200
    assert "session.created" in response.text and "consent.given" in response.text
    assert "person.created" not in response.text  # about the person, not this session


def test_an_admin_edit_of_a_person_is_recorded_in_the_ledger(admin_client, world):
    (person,) = world(1)
    url = reverse("admin:verification_authorizingperson_change", args=[person.pk])
    data = {
        "full_name": "Person Renamed",
        "email": person.email,
        "phone": "",
        "language": "en",
        "sessions-TOTAL_FORMS": "1",
        "sessions-INITIAL_FORMS": "1",
        "consents-TOTAL_FORMS": "1",
        "consents-INITIAL_FORMS": "1",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.filter(action="person.updated").get()
    assert event.payload == {"fields": ["full_name"], "via": "admin"}
    assert event.person_id == person.pk


def test_closing_a_project_in_the_admin_is_dated_and_recorded(admin_client, project):
    url = reverse("admin:verification_project_change", args=[project.pk])
    data = {"name": project.name, "intended_use": project.intended_use}  # is_active unticked
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    project.refresh_from_db()
    assert not project.is_active and project.closed_at is not None
    event = AuditEvent.objects.get(action="project.closed")
    assert event.payload["closed_at"] == project.closed_at.isoformat()

    admin_client.post(url, {**data, "is_active": "on"})
    project.refresh_from_db()
    assert project.is_active and project.closed_at is None
    assert AuditEvent.objects.filter(action="project.reopened").count() == 1


def test_secrets_never_show_on_liveness_attempt_and_invitation_pages(admin_client, world):
    world(1)
    attempt = LivenessAttempt.objects.get()
    page = admin_client.get(
        reverse("admin:verification_livenessattempt_change", args=[attempt.pk])
    ).text
    assert attempt.byted_token not in page and attempt.byted_token_hash not in page
    assert attempt.ref not in page
    invitation = Invitation.objects.get()
    page = admin_client.get(
        reverse("admin:verification_invitation_change", args=[invitation.pk])
    ).text
    assert invitation.token_hash not in page


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:500])
    return len(captured)


def test_with_two_step_required_a_verified_admin_works_as_usual(verified_admin, world):
    world(1)
    assert verified_admin.get(changelist(Consent)).status_code == 200
    assert verified_admin.get("/persons/").status_code == 200

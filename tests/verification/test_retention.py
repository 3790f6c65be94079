"""Retention: local copies go after a while, a person's media goes at their deadline, with proof."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from assets.models import Asset, AssetGroup
from ledger.models import AuditEvent
from tests.assets.test_intake import run_forwarding_and_checks, upload
from verification import retention, tasks
from verification.models import AuthorizingPerson, Consent, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def active_asset(staff_client, verified_group, media, settings) -> Asset:
    settings.ASSET_FORWARDING_MODE = "inline"
    response = upload(staff_client, verified_group, media.image((800, 1000)), "me.jpg")
    asset = run_forwarding_and_checks(Asset.objects.get(pk=response.json()["assets"][0]["id"]))
    assert asset.status == Asset.Status.ACTIVE and Path(asset.file.path).exists()
    return asset


def consent_for(person, project, consent_text, **fields) -> Consent:
    return Consent.objects.create(
        person=person,
        text=consent_text,
        text_sha256=consent_text.sha256,
        project=project,
        intended_use=project.intended_use,
        media_kinds=["image"],
        signature_name=person.full_name,
        **fields,
    )


def live_upstream(simulator) -> tuple[set[str], set[str]]:
    state = simulator.control("GET", "state")["credentials"].values()
    groups = {g["id"] for c in state for g in c["groups"] if not g["deleted"]}
    assets = {a["id"] for c in state for a in c["assets"] if not a.get("deleted")}
    return groups, assets


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


# --- Local copies -----------------------------------------------------------------------------


def test_local_copies_are_destroyed_after_the_period_and_the_evidence_stays(active_asset, settings):
    settings.RETENTION_LOCAL_MEDIA_DAYS = 30
    path = Path(active_asset.file.path)
    settled = active_asset.completed_at

    with time_machine.travel(settled + timedelta(days=29, hours=23)):
        assert retention.apply().local_copies == []
    assert path.exists()

    with time_machine.travel(settled + timedelta(days=30, minutes=1)):
        report = retention.apply()
        assert [copy.asset_id for copy in report.local_copies] == [active_asset.pk]
        assert retention.apply().local_copies == []  # a second run finds nothing left

    assert not path.exists()
    kept = Asset.objects.get(pk=active_asset.pk)
    assert not kept.file
    assert kept.status == Asset.Status.ACTIVE and kept.sha256 == active_asset.sha256
    event = AuditEvent.objects.get(action="asset.local_copy_destroyed")
    assert event.actor_label == "retention" and event.person_id == kept.group.person_id
    assert event.payload["sha256"] == kept.sha256
    assert event.payload["upstream_id"] == kept.upstream_id


def test_a_failed_assets_local_copy_goes_too_but_one_still_in_flight_stays(active_asset):
    Asset.objects.filter(pk=active_asset.pk).update(status=Asset.Status.FAILED)
    with time_machine.travel(active_asset.completed_at + timedelta(days=31)):
        assert len(retention.apply().local_copies) == 1

    Asset.objects.filter(pk=active_asset.pk).update(
        status=Asset.Status.PROCESSING, file="assets/still-needed.jpg"
    )
    with time_machine.travel(active_asset.completed_at + timedelta(days=31)):
        assert retention.apply().local_copies == []


# --- Deadlines --------------------------------------------------------------------------------


def test_the_deadline_is_the_period_after_the_last_interaction(
    person, project, consent_text, settings
):
    settings.RETENTION_PERSON_DAYS = 1095
    consent_for(person, project, consent_text)  # open-ended: no purpose-done clock
    assert retention.deadline_for(person) == person.last_interaction_at + timedelta(days=1095)
    assert list(retention.upcoming()) == []


def test_a_person_without_consents_has_only_the_interaction_clock(person):
    annotated = retention.with_deadlines().get(pk=person.pk)
    assert annotated.retention_reason == retention.Reason.LAST_INTERACTION
    assert not annotated.retention_pending


def test_the_deadline_is_the_end_of_the_last_term_when_every_consent_has_ended(
    person, project, consent_text
):
    term_end = timezone.now().date() + timedelta(days=40)
    consent_for(person, project, consent_text, term_ends_on=term_end)
    withdrawn_at = timezone.now() - timedelta(days=3)
    consent_for(person, project, consent_text, withdrawn_at=withdrawn_at)
    # Withdrawn before its term ran out: it ended when it was withdrawn.
    consent_for(
        person,
        project,
        consent_text,
        withdrawn_at=withdrawn_at,
        term_ends_on=term_end + timedelta(1),
    )

    annotated = retention.with_deadlines().get(pk=person.pk)
    # The morning after the last day of the term, as `Consent.is_active` sees it.
    assert annotated.retention_deadline == datetime.combine(
        term_end + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )
    assert annotated.retention_reason == retention.Reason.TERM_ENDED
    assert annotated.retention_pending

    consent_for(person, project, consent_text)  # one consent still open: the purpose goes on
    assert retention.with_deadlines().get(pk=person.pk).retention_reason == "last_interaction"


def test_closing_every_project_makes_the_person_due_after_the_grace_period(
    person, project, consent_text, settings
):
    settings.RETENTION_PROJECT_CLOSED_DAYS = 30
    consent_for(person, project, consent_text)
    project.is_active = False
    project.save(update_fields=["is_active"])
    project.refresh_from_db()
    assert project.closed_at is not None
    deadline = project.closed_at + timedelta(days=30)
    annotated = retention.with_deadlines().get(pk=person.pk)
    assert annotated.retention_deadline == deadline
    assert annotated.retention_reason == retention.Reason.PROJECT_CLOSED
    assert list(retention.due_persons(now=deadline - timedelta(seconds=1))) == []
    assert [p.pk for p in retention.due_persons(now=deadline)] == [person.pk]

    other = Project.objects.create(name="Spring", intended_use="Spring ads.")
    consent_for(person, other, consent_text)
    assert list(retention.due_persons(now=deadline)) == []


def test_reopening_a_project_stops_its_clock(person, project, consent_text):
    consent_for(person, project, consent_text)
    project.is_active = False
    project.save()
    project.is_active = True
    project.save()
    project.refresh_from_db()
    assert project.closed_at is None
    far = timezone.now() + timedelta(days=365)
    assert list(retention.due_persons(now=far)) == []


def test_upcoming_deadlines_take_one_query(
    person, project, consent_text, django_assert_num_queries
):
    for number in range(5):
        someone = AuthorizingPerson.objects.create(full_name=f"Person {number}")
        consent_for(someone, project, consent_text, term_ends_on=date.today() + timedelta(number))
    with django_assert_num_queries(1):
        due = [(p.full_name, p.retention_deadline) for p in retention.upcoming()]
    assert len(due) == 5


# --- A person's deadline ----------------------------------------------------------------------


def test_a_person_past_their_deadline_loses_everything_upstream_once(
    active_asset, verified_group, simulator, settings
):
    settings.RETENTION_PERSON_DAYS = 1095
    person = verified_group.person
    assert active_asset.upstream_id in live_upstream(simulator)[1]

    with time_machine.travel(person.last_interaction_at + timedelta(days=1094)):
        assert retention.apply().persons == []

    with time_machine.travel(person.last_interaction_at + timedelta(days=1095, hours=1)):
        report = retention.apply()
        [outcome] = report.persons
        assert (outcome.person_id, outcome.withdrawn, outcome.destroyed) == (person.pk, 1, 1)
        assert outcome.reason == "last_interaction" and report.failures == 0
        before = AuditEvent.objects.count()
        again = retention.apply()  # nothing is left to do
        assert again.persons == [] and again.local_copies == []
        assert AuditEvent.objects.count() == before

    consent = Consent.objects.get()
    assert consent.withdrawn_at and consent.destroyed_at
    active_asset.refresh_from_db()
    assert active_asset.status == Asset.Status.DELETED and not active_asset.file
    assert active_asset.sha256  # the evidence row remains
    assert AssetGroup.objects.get().deleted_at is not None
    groups, assets = live_upstream(simulator)
    assert verified_group.upstream_id not in groups and active_asset.upstream_id not in assets

    tail = actions()[actions().index("consent.withdrawn") :]
    assert tail == [
        "consent.withdrawn",
        "asset.deleted",
        "group.deleted",
        "destruction.completed",
        "retention.applied",
    ]
    withdrawn = AuditEvent.objects.get(action="consent.withdrawn")
    assert (withdrawn.actor_kind, withdrawn.actor_label) == ("system", "retention")
    applied = AuditEvent.objects.get(action="retention.applied")
    assert applied.person_id == person.pk
    assert applied.payload["reason"] == "last_interaction"
    assert applied.payload["consents_destroyed"] == 1 and applied.payload["error"] == ""


def test_an_upstream_outage_leaves_the_person_for_the_next_run(
    active_asset, verified_group, simulator, settings
):
    settings.UPSTREAM_RETRY_BUDGET = 0
    Project.objects.update(is_active=False, closed_at=timezone.now() - timedelta(days=365))
    simulator.control(
        "POST",
        "faults",
        json={"action": "DeleteAsset", "kind": "error", "status": 503, "count": 50},
    )
    out = StringIO()
    with pytest.raises(CommandError, match="next run retries"):
        call_command("apply_retention", stdout=out)
    assert "waiting: UpstreamUnavailable" in out.getvalue()
    consent = Consent.objects.get()
    assert consent.withdrawn_at and consent.destroyed_at is None
    assert verified_group.upstream_id in live_upstream(simulator)[0]
    assert AuditEvent.objects.get(action="retention.applied").payload["error"]

    simulator.control("DELETE", "faults")
    call_command("apply_retention", stdout=StringIO())
    consent.refresh_from_db()
    assert consent.destroyed_at is not None
    assert verified_group.upstream_id not in live_upstream(simulator)[0]
    assert actions().count("consent.withdrawn") == 1
    call_command("apply_retention", stdout=StringIO())  # done: nothing more happens
    assert actions().count("retention.applied") == 2


# --- The command and the task -----------------------------------------------------------------


def test_a_dry_run_lists_what_would_go_and_changes_nothing(active_asset, verified_group, simulator):
    person = verified_group.person
    path = Path(active_asset.file.path)
    events = AuditEvent.objects.count()
    out = StringIO()
    with time_machine.travel(person.last_interaction_at + timedelta(days=1100)):
        call_command("apply_retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "dry run: nothing was changed" in text
    assert "Local copies settled more than 30 days ago: 1" in text
    assert "Persons past their retention deadline: 1" in text
    assert "would destroy" in text and "last_interaction" in text
    assert path.exists()
    assert AuditEvent.objects.count() == events
    assert Consent.objects.get().withdrawn_at is None
    assert verified_group.upstream_id in live_upstream(simulator)[0]


def test_the_command_prints_what_it_did(active_asset):
    out = StringIO()
    with time_machine.travel(active_asset.completed_at + timedelta(days=31)):
        call_command("apply_retention", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(f"{active_asset.pk}" in line and line.endswith("destroyed") for line in lines)
    assert any(line.split() == ["Local", "copies", "destroyed", "1", "0"] for line in lines)
    assert any(line.split() == ["Persons", "processed", "0", "0"] for line in lines)


def test_the_daily_task_runs_the_same_service(active_asset, settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["apply-retention"]
    assert schedule["task"] == "verification.tasks.apply_retention"
    with time_machine.travel(active_asset.completed_at + timedelta(days=31)):
        assert tasks.apply_retention() == 0
    assert not Path(active_asset.file.path).exists()
    assert AuditEvent.objects.filter(action="asset.local_copy_destroyed").count() == 1


# --- Staff see it coming ----------------------------------------------------------------------


def test_the_dashboard_shows_upcoming_and_overdue_deadlines(
    staff_client, person, project, consent_text
):
    soon = timezone.now().date() + timedelta(days=10)
    consent_for(person, project, consent_text, term_ends_on=soon)
    late = AuthorizingPerson.objects.create(full_name="Late Person")
    AuthorizingPerson.objects.filter(pk=late.pk).update(
        last_interaction_at=timezone.now() - timedelta(days=1100)
    )
    consent_for(late, project, consent_text)
    far = AuthorizingPerson.objects.create(full_name="Far Person")
    consent_for(far, project, consent_text, term_ends_on=soon + timedelta(days=60))

    page = staff_client.get("/").content.decode()
    assert "Retention" in page
    deadline = retention.deadline_for(person)
    assert "Jane Doe" in page and timezone.localtime(deadline).date().isoformat() in page
    assert "Every consent has ended" in page
    assert "Late Person" in page and "Overdue" in page
    assert "Far Person" not in page

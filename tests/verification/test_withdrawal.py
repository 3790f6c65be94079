"""Withdrawal: one confirmed step for the person, destruction retried until done, evidence kept."""

from pathlib import Path

import pytest
from django.core import mail

from assets import services as asset_services
from assets.models import Asset, AssetGroup
from ledger.models import AuditEvent
from ledger.services import Actor
from tests.assets.test_intake import run_forwarding_and_checks, upload
from upstream.errors import UpstreamUnavailable
from verification import services, withdrawal
from verification.models import Consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def active_asset(staff_client, verified_group, media, settings) -> Asset:
    settings.ASSET_FORWARDING_MODE = "inline"
    response = upload(staff_client, verified_group, media.image((800, 1000)), "me.jpg")
    asset = run_forwarding_and_checks(Asset.objects.get(pk=response.json()["assets"][0]["id"]))
    assert asset.status == Asset.Status.ACTIVE
    return asset


@pytest.fixture
def link(verified_group, staff_user) -> str:
    return services.show_link(session=verified_group.session, user=staff_user).removeprefix(
        "http://127.0.0.1:8000"
    )


def live_upstream(simulator) -> tuple[set[str], set[str]]:
    state = simulator.control("GET", "state")["credentials"].values()
    groups = {g["id"] for c in state for g in c["groups"] if not g["deleted"]}
    assets = {a["id"] for c in state for a in c["assets"] if not a.get("deleted")}
    return groups, assets


def test_the_person_withdraws_in_one_confirmed_step_and_everything_is_destroyed(
    phone, link, active_asset, verified_group, simulator, django_capture_on_commit_callbacks
):
    stored = Path(active_asset.file.path)
    assert b"Withdraw my consent" in phone.get(link).content
    confirm = phone.get(f"{link}withdraw/")
    assert b"Yes, withdraw my consent" in confirm.content
    consent = Consent.objects.get()
    assert consent.withdrawn_at is None  # looking at the page changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        done = phone.post(f"{link}withdraw/")
    assert done.status_code == 200 and b"Your consent is withdrawn" in done.content
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal.destroy(consent_id=consent.pk)  # the queued task, as a worker runs it
    consent.refresh_from_db()
    assert consent.withdrawn_at and consent.destroyed_at

    active_asset.refresh_from_db()
    assert active_asset.status == Asset.Status.DELETED and not active_asset.file
    assert not stored.exists()
    assert AssetGroup.objects.get().deleted_at is not None
    groups, assets = live_upstream(simulator)
    assert verified_group.upstream_id not in groups and active_asset.upstream_id not in assets

    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    tail = actions[actions.index("consent.withdrawn") :]
    assert tail == ["consent.withdrawn", "asset.deleted", "group.deleted", "destruction.completed"]
    assert "deleted the photos, videos and voice recordings" in mail.outbox[-1].body
    assert b"Everything it covered has been deleted" in phone.get(link).content


def test_forwarding_stops_at_once(staff_client, verified_group, media, settings):
    settings.ASSET_FORWARDING_MODE = "inline"
    response = upload(staff_client, verified_group, media.image((800, 1000)))
    asset = Asset.objects.get(pk=response.json()["assets"][0]["id"])
    withdrawal.withdraw_consent(consent=Consent.objects.get(), actor=Actor.system())
    asset_services.forward(asset_id=asset.pk)
    asset.refresh_from_db()
    assert asset.status == Asset.Status.REJECTED and asset.error_code == "ConsentWithdrawn"
    refused = upload(staff_client, verified_group, media.image((800, 1000)))
    assert refused.status_code == 409


def test_destruction_is_retried_until_the_upstream_answers(active_asset, simulator, settings):
    settings.UPSTREAM_RETRY_BUDGET = 0
    consent = Consent.objects.get()
    withdrawal.withdraw_consent(consent=consent, actor=Actor.system())
    simulator.control(
        "POST",
        "faults",
        json={"action": "DeleteAsset", "kind": "error", "status": 503, "count": 10},
    )
    with pytest.raises(UpstreamUnavailable):
        withdrawal.destroy(consent_id=consent.pk)
    consent.refresh_from_db()
    assert consent.destroyed_at is None
    assert consent.pk in withdrawal.withdrawn_not_destroyed(
        now=consent.withdrawn_at + __import__("datetime").timedelta(minutes=6)
    )
    simulator.control("DELETE", "faults")
    assert withdrawal.destroy(consent_id=consent.pk)
    assert withdrawal.destroy(consent_id=consent.pk)  # again: nothing more happens
    assert AuditEvent.objects.filter(action="destruction.completed").count() == 1


def test_staff_withdraw_on_the_persons_behalf(
    staff_client, active_asset, django_capture_on_commit_callbacks
):
    consent = Consent.objects.get()
    url = f"/consents/{consent.pk}/withdraw/"
    asked = staff_client.post(url)  # the person page's button: the confirmation step first
    assert asked.status_code == 200 and b"can&#x27;t be undone" in asked.content
    unexplained = staff_client.post(url, {"confirmed": "yes", "reason": "  "})
    assert unexplained.status_code == 400 and b"Say why" in unexplained.content
    consent.refresh_from_db()
    assert consent.withdrawn_at is None
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = staff_client.post(url, {"confirmed": "yes", "reason": "She asked by letter"})
    assert response.status_code == 302 and len(queued) == 2  # destruction, checkpoint
    withdrawal.destroy(consent_id=consent.pk)
    consent.refresh_from_db()
    assert consent.withdrawn_at and consent.destroyed_at
    event = AuditEvent.objects.get(action="consent.withdrawn")
    assert event.actor_kind == "staff" and event.actor_label == "staffer"
    assert event.payload["reason"] == "She asked by letter"


def test_an_expired_link_can_ask_for_a_new_one(phone, start_by_email, settings):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    _, link = start_by_email()
    sent = len(mail.outbox)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        page = phone.get(link)
        assert b"Send me a new link" in page.content
        renewed = phone.post(f"{link}renew/")
        assert b"A new link is on its way" in renewed.content
        again = phone.post(f"{link}renew/")  # that link was just replaced by the new one
        assert again.status_code == 410 and b"newer link" in again.content
    from tests.journey import run_pending_invitations

    run_pending_invitations()
    assert len(mail.outbox) == sent + 1


def test_the_person_downloads_their_receipts_and_gets_one_by_email(
    phone, link, active_asset, django_capture_on_commit_callbacks
):
    from verification.tasks import send_receipt

    consent = Consent.objects.get()
    with django_capture_on_commit_callbacks(execute=False):
        send_receipt.apply(args=[consent.pk])  # what the worker runs after the consent commits
    message = mail.outbox[-1]
    assert message.to == ["jane@example.com"]
    assert {name.rsplit(".", 1)[1] for name, *_ in message.attachments} == {"pdf", "json"}
    receipt = phone.get(f"{link}receipt.json")
    assert receipt["Content-Type"] == "application/json"
    body = receipt.json()
    assert body["consent"]["text"]["sha256"] == consent.text_sha256
    assert active_asset.sha256 in {asset["sha256"] for asset in body["assets"]}
    pdf = phone.get(f"{link}receipt.pdf")
    assert pdf.content.startswith(b"%PDF")

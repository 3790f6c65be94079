"""The whole integration through the API alone, with a real receiver process on 127.0.0.1."""

import json
from datetime import timedelta

import pytest
import time_machine

from assets import services as asset_services
from assets.models import Asset
from integrations import delivery, outbox, signing
from integrations.models import WebhookDelivery
from tests.journey import callback_path, consent_and_start, latest_attempt

pytestmark = pytest.mark.django_db

EVENTS = ["session.verified", "consent.given", "consent.withdrawn", "asset.active", "asset.deleted"]


def worker_round(endpoint_id: int) -> None:
    """What the beat and the workers do: the outbox sweep, then the endpoint's due deliveries,
    waiting out each retry's backoff."""
    outbox.sweep()
    for _ in range(5):
        delivery.deliver(endpoint_id=endpoint_id)
        pending = (
            WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
            .order_by("-next_attempt_at")
            .first()
        )
        if pending is None or pending.next_attempt_at is None:
            return
        with time_machine.travel(pending.next_attempt_at + timedelta(seconds=1)):
            delivery.deliver(endpoint_id=endpoint_id)


def test_a_journey_through_the_api_then_a_withdrawal_reaches_the_receiver_in_order(
    api,
    account,
    project,
    consent_text,
    phone,
    simulator,
    media,
    receiver_factory,
    settings,
):
    settings.ASSET_FORWARDING_MODE = "inline"
    receiver = receiver_factory(failures=2)
    hook = api.post("/api/v1/webhook-endpoints", {"url": receiver.url, "events": EVENTS}).json()
    secret, endpoint_id = hook["secret"], int(hook["id"].removeprefix("whe_"))

    person = api.post(
        "/api/v1/persons",
        {"full_name": "Jane Doe", "email": "jane@example.com", "external_reference": "crm-7"},
    ).json()
    session = api.post(
        "/api/v1/sessions",
        {
            "person": person["id"],
            "project": f"prj_{project.pk}",
            "consent_text": f"ctx_{consent_text.pk}",
            "media_kinds": ["image", "video", "audio"],
            "delivery": "link",
        },
    ).json()
    link = "/" + session["link"].split("://", 1)[1].split("/", 1)[1]

    # The person's own steps, on their phone: consent, then the upstream's liveness check.
    phone.get(link)
    consent_and_start(phone, link)
    from verification.models import VerificationSession

    attempt = latest_attempt(VerificationSession.objects.get(pk=int(session["id"][4:])))
    phone.get(callback_path(simulator.complete(attempt.byted_token)))
    assert api.get(f"/api/v1/sessions/{session['id']}").json()["status"] == "verified"

    group = api.get("/api/v1/groups", person=person["id"]).json()["data"][0]
    uploaded = api.upload(
        f"/api/v1/groups/{group['id']}/assets", {"file": media.image((800, 1000)).open("rb")}
    )
    assert uploaded.status_code == 201, uploaded.content
    asset_id = int(uploaded.json()["id"][4:])
    asset_services.forward(asset_id=asset_id)  # the worker's part
    asset_services.refresh_status(asset=Asset.objects.get(pk=asset_id))
    active = api.get("/api/v1/assets", person=person["id"], status="active").json()["data"]
    assert active[0]["asset_uri"].startswith("asset://")

    cleared = api.post(
        "/api/v1/clearances",
        {
            "assets": [active[0]["asset_uri"]],
            "project": f"prj_{project.pk}",
            "intended_use": "ad 1",
        },
    ).json()
    assert cleared["allowed"] is True
    worker_round(endpoint_id)

    phone.post(f"{link}withdraw/")
    worker_round(endpoint_id)
    from verification import withdrawal
    from verification.models import Consent

    withdrawal.destroy(consent_id=Consent.objects.get().pk)  # the worker's part: delete upstream
    worker_round(endpoint_id)
    refused = api.post(
        "/api/v1/clearances", {"assets": [active[0]["asset_uri"]], "project": f"prj_{project.pk}"}
    ).json()
    assert refused["allowed"] is False and refused["assets"][0]["reason"] == "withdrawn"

    got = receiver.received()
    assert [r["answered"] for r in got[:3]] == [500, 500, 204]  # the first event, third try
    delivered = [r for r in got if r["answered"] == 204]
    types = [json.loads(r["body"])["type"] for r in delivered]
    assert types == [
        "consent.given",
        "session.verified",
        "asset.active",
        "consent.withdrawn",
        "asset.deleted",
    ]
    for r in got:
        h = r["headers"]
        assert signing.verify(
            secret=secret,
            message_id=h["webhook-id"],
            timestamp=int(h["webhook-timestamp"]),
            body=r["body"].encode(),
            signature_header=h["webhook-signature"],
        )
    withdrawn = json.loads(delivered[3]["body"])["data"]
    assert withdrawn["external_reference"] == "crm-7"
    assert withdrawn["clearances_voided"] == [cleared["id"]]
    ids = [r["headers"]["webhook-id"] for r in delivered]
    assert ids == sorted(ids, key=lambda i: int(i[4:])) and len(set(ids)) == len(ids)

import base64
import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from integrations import delivery, outbox, signing
from integrations.destinations import DestinationRefused, check_url
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.webhooks import create_endpoint, rotate_secret
from ledger.services import Actor, record

pytestmark = pytest.mark.django_db


def test_the_signature_follows_the_standard_webhooks_example():
    # The specification's published example: secret, id, timestamp, body and signature.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = signing.sign(
        secret=secret, message_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_secrets_are_whsec_and_a_rotation_signs_with_both_for_a_while():
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/x",
        events=["consent.given"],
        secret=WebhookEndpoint.new_secret(),
    )
    assert endpoint.secret.startswith("whsec_") and len(base64.b64decode(endpoint.secret[6:])) == 24
    old = endpoint.secret
    new = rotate_secret(endpoint=endpoint, actor=Actor.system())
    assert endpoint.signing_secrets() == [new, old]
    headers = signing.headers(
        secrets=endpoint.signing_secrets(), message_id="evt_1", timestamp=1, body=b"{}"
    )
    for key in (new, old):
        assert signing.verify(
            secret=key,
            message_id="evt_1",
            timestamp=1,
            body=b"{}",
            signature_header=headers["webhook-signature"],
        )
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert endpoint.signing_secrets() == [new]


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://user:pw@example.com/x",
        "ftp://example.com/x",
    ],
)
def test_webhook_urls_to_private_places_or_without_https_are_refused(url, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(DestinationRefused):
        check_url(url)


def test_an_allow_list_admits_a_private_receiver(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert check_url("https://127.0.0.1:9/x") == ["127.0.0.1"]
    with pytest.raises(DestinationRefused):
        check_url("https://10.0.0.1/x")


def test_the_command_prints_the_secret_last(receiver_factory):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "add_webhook_endpoint", "http://127.0.0.1:9/x", "--events", "consent.given", stdout=out
    )
    assert out.getvalue().strip().splitlines()[-1] == WebhookEndpoint.objects.get().secret


def _event(action="session.cancelled"):
    from verification.models import AuthorizingPerson

    person = AuthorizingPerson.objects.create(full_name="Jane Doe")
    return record(
        action="retention.applied",
        actor=Actor.system(),
        subject=person,
        person_id=person.pk,
        payload={"consents_pending": 0},
    )


def test_a_failing_receiver_gets_the_event_again_with_backoff_and_the_same_id(
    receiver_factory, settings
):
    receiver = receiver_factory(failures=2)
    endpoint, secret = create_endpoint(
        url=receiver.url, events=["person.destroyed"], actor=Actor.system()
    )
    _event()
    outbox.sweep()
    assert delivery.deliver(endpoint_id=endpoint.pk) == 0
    row = WebhookDelivery.objects.get()
    assert row.attempts == 1 and row.next_attempt_at is not None
    assert row.next_attempt_at > timezone.now()
    assert delivery.deliver(endpoint_id=endpoint.pk) == 0  # not due yet: nothing sent
    for _ in range(2):
        assert row.next_attempt_at is not None
        with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
            delivery.deliver(endpoint_id=endpoint.pk)
        row.refresh_from_db()
    assert row.status == WebhookDelivery.Status.SUCCEEDED and row.attempts == 3
    got = receiver.received()
    assert [r["answered"] for r in got] == [500, 500, 204]
    assert len({r["headers"]["webhook-id"] for r in got}) == 1
    for r in got:
        h = r["headers"]
        assert signing.verify(
            secret=secret,
            message_id=h["webhook-id"],
            timestamp=int(h["webhook-timestamp"]),
            body=r["body"].encode(),
            signature_header=h["webhook-signature"],
        )
    assert row.log.count() == 3


def test_the_schedule_lasts_more_than_a_day_then_gives_up(settings):
    assert sum(settings.WEBHOOK_RETRY_SCHEDULE) > 24 * 3600


def test_an_endpoint_that_keeps_failing_is_paused_and_the_admins_told(
    receiver_factory, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_PAUSE_AFTER_FAILURES = 2
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0, 0]
    settings.ADMINS = ["admin@example.com"]
    receiver = receiver_factory(failures=100)
    endpoint, _ = create_endpoint(
        url=receiver.url, events=["person.destroyed"], actor=Actor.system()
    )
    _event()
    outbox.sweep()
    with django_capture_on_commit_callbacks(execute=True):
        delivery.deliver(endpoint_id=endpoint.pk)
        delivery.deliver(endpoint_id=endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.paused_at is not None
    assert "paused" in mail.outbox[-1].subject.lower()
    assert delivery.deliver(endpoint_id=endpoint.pk) == 0
    assert len(receiver.received()) == 2


def test_a_redirect_is_not_followed(receiver_factory):
    receiver = receiver_factory(failures=-1)  # answers 307 to another place
    endpoint, _ = create_endpoint(
        url=receiver.url, events=["person.destroyed"], actor=Actor.system()
    )
    _event()
    outbox.sweep()
    assert delivery.deliver(endpoint_id=endpoint.pk) == 0
    assert len(receiver.received()) == 1
    attempt = WebhookDelivery.objects.get().log.get()
    assert attempt.status_code == 307 and "Redirects are not followed" in attempt.error


def test_send_again_delivers_a_delivered_event_once_more(receiver_factory):
    receiver = receiver_factory()
    endpoint, _ = create_endpoint(
        url=receiver.url, events=["person.destroyed"], actor=Actor.system()
    )
    _event()
    outbox.sweep()
    delivery.deliver(endpoint_id=endpoint.pk)
    delivery.send_again(delivery=WebhookDelivery.objects.get())
    delivery.deliver(endpoint_id=endpoint.pk)
    assert len(receiver.received()) == 2 and WebhookEvent.objects.count() == 1


def test_events_wait_for_a_paused_endpoint_and_go_in_order_once_it_resumes(receiver_factory):
    receiver = receiver_factory()
    endpoint, _ = create_endpoint(
        url=receiver.url, events=["person.destroyed"], actor=Actor.system()
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_at=timezone.now())
    _event()
    _event()
    outbox.sweep()
    assert delivery.deliver(endpoint_id=endpoint.pk) == 0
    assert delivery.due_endpoints() == []
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_at=None)
    assert delivery.due_endpoints() == [endpoint.pk]
    assert delivery.deliver(endpoint_id=endpoint.pk) == 2
    ids = [r["headers"]["webhook-id"] for r in receiver.received()]
    assert ids == sorted(ids, key=lambda i: int(i[4:]))


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("verification.completed", "session.verified"),
        ("verification.group_reused", "session.verified"),
        ("verification.failed", "session.failed"),
        ("session.expired", "session.expired"),
        ("session.cancelled", "session.cancelled"),
    ],
)
def test_session_events_carry_ids_and_the_reference_and_no_personal_data(
    action, kind, verified_group
):
    from integrations.models import ExternalReference

    session = verified_group.session
    ExternalReference.objects.create(person=session.person, value="crm-9")
    record(action=action, actor=Actor.system(), subject=session, person_id=session.person_id)
    record(action="invitation.sent", actor=Actor.system(), subject=session)  # not an event
    outbox.sweep()
    event = WebhookEvent.objects.exclude(type="consent.given").get()  # the fixture consented
    assert event.type == kind and event.public_id.startswith("evt_")
    assert event.payload["data"] == {
        "session": f"ses_{session.pk}",
        "person": f"per_{session.person_id}",
        "external_reference": "crm-9",
        "project": session.project.name,
        "status": session.status,
    }
    text = json.dumps(event.payload)
    assert session.person.full_name not in text and session.person.email not in text


def test_asset_failed_carries_the_error_code(verified_group):
    from assets.models import Asset

    asset = Asset.objects.create(
        group=verified_group,
        kind="image",
        status=Asset.Status.FAILED,
        original_name="a.jpg",
        upstream_name="sitter-f",
        size_bytes=1,
        sha256="0" * 64,
        error_code="InvalidParameter.face",
    )
    record(
        action="asset.failed",
        actor=Actor.system(),
        subject=asset,
        person_id=verified_group.person_id,
    )
    outbox.sweep()
    data = WebhookEvent.objects.get(type="asset.failed").payload["data"]
    assert data["asset"] == f"ast_{asset.pk}" and data["error_code"] == "InvalidParameter.face"


def test_an_installation_upgraded_to_webhooks_does_not_send_its_past(receiver_factory):
    import importlib

    from django.apps import apps

    from integrations.models import OutboxCursor

    migration = importlib.import_module("integrations.migrations.0001_api_initial")
    _event()  # history from before the upgrade
    OutboxCursor.objects.all().delete()
    migration.start_at_the_ledger_head(apps, None)
    create_endpoint(url=receiver_factory().url, events=["person.destroyed"], actor=Actor.system())
    outbox.sweep()
    assert not WebhookEvent.objects.exists()
    _event()
    outbox.sweep()
    assert WebhookEvent.objects.count() == 1

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import milestones, outbox
from integrations.models import ApiKey, WebhookEndpoint, WebhookEvent
from ledger.models import AuditEvent
from verification.models import Consent

pytestmark = pytest.mark.django_db


def test_a_consents_approaching_and_passed_end_are_recorded_once_and_sent(verified_group, settings):
    settings.CONSENT_EXPIRING_DAYS = 14
    consent = Consent.objects.get(session=verified_group.session)
    today = timezone.now().date()
    Consent.objects.filter(pk=consent.pk).update(term_ends_on=today + timedelta(days=10))
    assert milestones.record_milestones() == 1
    assert milestones.record_milestones() == 0
    Consent.objects.filter(pk=consent.pk).update(term_ends_on=today - timedelta(days=1))
    assert milestones.record_milestones() == 1
    assert (
        AuditEvent.objects.filter(action__in=["consent.expiring", "consent.expired"]).count() == 2
    )
    outbox.sweep()
    assert list(WebhookEvent.objects.values_list("type", flat=True))[-2:] == [
        "consent.expiring",
        "consent.expired",
    ]


def test_a_withdrawn_consent_gets_no_expiry_events(verified_group):
    consent = Consent.objects.get(session=verified_group.session)
    Consent.objects.filter(pk=consent.pk).update(
        term_ends_on=timezone.now().date() - timedelta(days=1), withdrawn_at=timezone.now()
    )
    assert milestones.record_milestones() == 0


def test_admin_creates_a_key_shows_it_once_and_revokes_it(admin_client):
    response = admin_client.post(
        "/admin/integrations/apikey/add/",
        {"name": "farm", "scopes": ["read", "clear"], "rate_limit_per_minute": 100},
        follow=True,
    )
    key = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any("sitter_key_" in m for m in shown)
    assert key.scopes == ["read", "clear"] and key.user.username == f"api-{key.public_id}"
    admin_client.post(
        "/admin/integrations/apikey/",
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_admin_refuses_a_private_webhook_url(admin_client):
    response = admin_client.post(
        "/admin/integrations/webhookendpoint/add/",
        {"url": "https://169.254.169.254/latest", "events": ["consent.given"], "is_active": "on"},
    )
    assert response.status_code == 200 and b"private" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_admin_shows_the_delivery_log_and_sends_again(admin_client, receiver_factory):
    from integrations import delivery
    from integrations.models import WebhookDelivery
    from integrations.webhooks import create_endpoint
    from ledger.services import Actor, record
    from verification.models import AuthorizingPerson

    receiver = receiver_factory()
    endpoint, _ = create_endpoint(
        url=receiver.url, events=["person.destroyed"], actor=Actor.system()
    )
    person = AuthorizingPerson.objects.create(full_name="Jane Doe")
    record(action="retention.applied", actor=Actor.system(), subject=person, payload={})
    outbox.sweep()
    delivery.deliver(endpoint_id=endpoint.pk)
    log = admin_client.get(
        f"/admin/integrations/deliveryattempt/?delivery__endpoint__id__exact={endpoint.pk}"
    )
    assert log.status_code == 200 and b"204" in log.content
    row = WebhookDelivery.objects.get()
    admin_client.post(
        "/admin/integrations/webhookdelivery/",
        {"action": "send_again", "_selected_action": [row.pk]},
    )
    row.refresh_from_db()
    assert row.status == WebhookDelivery.Status.PENDING
    delivery.deliver(endpoint_id=endpoint.pk)
    assert len(receiver.received()) == 2

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledger.checkpoints import write_checkpoint


@pytest.fixture
def admin_client_(db) -> Client:
    user = get_user_model().objects.create_superuser(username="root", password="x" * 20)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "query",
    ["", "?action=consent.given", "?actor_kind=person", "?q=42", "?q=not-a-number", "?o=-1"],
)
def test_the_event_list_renders_filters_and_searches(admin_client_, events, query):
    response = admin_client_.get(reverse("admin:ledger_auditevent_changelist") + query)
    assert response.status_code == 200
    assert "consent.given" in response.text


def test_an_event_shows_read_only_with_its_payload_indented(admin_client_, events):
    url = reverse("admin:ledger_auditevent_change", args=[3])
    response = admin_client_.get(url)
    assert response.status_code == 200
    assert "<pre>{\n  &quot;note&quot;: &quot;Zoë&quot;," in response.text
    assert events[2].hash in response.text
    assert 'name="_save"' not in response.text
    assert admin_client_.post(url, {"action": "x.y"}).status_code == 403


def test_nobody_adds_or_deletes_events_or_checkpoints(admin_client_, events):
    write_checkpoint()
    for model in ("auditevent", "ledgercheckpoint"):
        assert admin_client_.get(reverse(f"admin:ledger_{model}_add")).status_code == 403
    delete = reverse("admin:ledger_auditevent_delete", args=[1])
    assert admin_client_.post(delete, {"post": "yes"}).status_code == 403
    listing = admin_client_.get(reverse("admin:ledger_ledgercheckpoint_changelist"))
    assert listing.status_code == 200
    assert events[-1].hash in listing.text


def test_the_unfiltered_list_is_counted_from_the_head_not_by_a_scan(admin_client_, events):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client_.get(reverse("admin:ledger_auditevent_changelist"))
    assert "5 audit events" in response.text
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"] and "ledger_auditevent" in q["sql"]]
    assert counts == []


def test_search_matches_ids_exactly(admin_client_, events):
    changelist = reverse("admin:ledger_auditevent_changelist")
    assert "5 audit events" in admin_client_.get(changelist + "?q=42").text
    assert "0 audit events" in admin_client_.get(changelist + "?q=4").text

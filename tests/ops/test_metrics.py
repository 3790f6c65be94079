"""/metrics: refused without the key, counts only, nothing personal."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from assets.models import Asset
from tests.admin.conftest import make_world
from upstream.models import UpstreamCall
from verification.models import LivenessAttempt, VerificationSession

pytestmark = pytest.mark.django_db
KEY = "metrics-key-for-tests-0123456789"
SAMPLE = re.compile(r'^([a-z_]+)(\{[a-z_]+="[^"\n]*"\})? (-?[0-9.e+]+)$')


@pytest.fixture(autouse=True)
def _key(settings):
    settings.METRICS_KEY = KEY


@pytest.fixture
def world(plain_account, project, consent_text, staff_user):
    persons = make_world(
        3, account=plain_account, project=project, consent_text=consent_text, user=staff_user
    )
    now = timezone.now()
    Asset.objects.filter(group__person=persons[0]).update(status=Asset.Status.VALIDATED)
    Asset.objects.filter(group__person=persons[1]).update(
        status=Asset.Status.PROCESSING, next_check_at=now - timedelta(seconds=40)
    )
    session = VerificationSession.objects.filter(person=persons[2]).get()
    session.move(VerificationSession.Status.VERIFIED, VerificationSession.Status.VERIFYING)
    LivenessAttempt.objects.filter(session=session).update(
        status=LivenessAttempt.Status.PENDING, next_poll_at=now - timedelta(seconds=12)
    )
    for code in ("FaceMismatch", "FaceMismatch", "NotFound.asset_id", 'bad"code\nwith break'):
        UpstreamCall.objects.create(
            account=plain_account, action="GetAsset", http_status=400, error_code=code
        )
    return persons


def scrape(client, key: str | None = KEY):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get("/metrics", headers=headers)


def samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        found[f"{match[1]}{match[2] or ''}"] = float(match[3])
    return found


def test_it_refuses_a_scrape_without_the_key_or_with_a_wrong_one(client, world):
    for key in (None, "wrong", KEY + "x"):
        response = scrape(client, key)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "sitter_" not in response.text
    response = client.get("/metrics", headers={"Authorization": f"Basic {KEY}"})
    assert response.status_code == 401


def test_it_does_not_exist_without_a_configured_key(client, settings):
    settings.METRICS_KEY = ""
    assert scrape(client).status_code == 404


def test_it_counts_sessions_assets_backlog_lag_and_upstream_errors(client, world):
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    assert found['sitter_sessions{status="verified"}'] == 2
    assert found['sitter_sessions{status="verifying"}'] == 1
    assert found['sitter_sessions{status="cancelled"}'] == 0
    assert found['sitter_assets{status="active"}'] == 1
    assert found['sitter_assets{status="processing"}'] == 1
    assert found["sitter_forwarding_backlog"] == 1
    assert 11 <= found["sitter_liveness_poll_lag_seconds"] < 60
    assert 39 <= found["sitter_asset_check_lag_seconds"] < 90
    assert found['sitter_upstream_errors_last_hour{code="FaceMismatch"}'] == 2
    assert found['sitter_upstream_errors_last_hour{code="NotFound.asset_id"}'] == 1
    assert found['sitter_upstream_errors_last_hour{code="other"}'] == 1
    assert found['sitter_retention_overdue{kind="person"}'] == 0
    assert found["sitter_worker_heartbeat_age_seconds"] == -1
    assert found["sitter_audit_events"] == 3


def test_it_holds_no_names_ids_or_contact_details(client, world):
    text = scrape(client).text
    for person in world:
        assert person.full_name not in text and person.email not in text
    for needle in ("group-", "asset-", "portrait-", "@", "Jane", "Winter campaign"):
        assert needle not in text
    # Labels are statuses and error codes only.
    labels = set(re.findall(r"\{([a-z_]+)=", text))
    assert labels == {"status", "code", "kind"}

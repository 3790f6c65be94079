"""Admin lists with 100,000 rows each answer quickly, in a fixed number of queries (load suite:
`pytest -m load`; seeding 800,000 rows takes a minute or two)."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assets.models import Asset, AssetGroup
from ledger.testing import append_synthetic, erase_ledger
from upstream.models import UpstreamCall
from verification.models import AuthorizingPerson, Consent, Invitation, VerificationSession

pytestmark = [pytest.mark.load, pytest.mark.django_db(transaction=True)]
ROWS = 100_000
BATCH = 5_000
# PostgreSQL (production) renders each of these lists in 0.1-0.3 s. SQLite spends about a
# second on the date drill-down alone: it truncates dates with a Python function, row by row.
SECONDS_PER_PAGE = 0.75 if connection.vendor == "postgresql" else 2.5


def bulk(model, rows) -> None:
    model.objects.bulk_create(rows, batch_size=BATCH)


@pytest.fixture
def crowded(plain_account, project, consent_text, staff_user):
    now = timezone.now()
    bulk(
        AuthorizingPerson,
        (
            AuthorizingPerson(full_name=f"Person {i}", email=f"p{i}@example.com")
            for i in range(ROWS)
        ),
    )
    person_ids = list(AuthorizingPerson.objects.order_by("pk").values_list("pk", flat=True))
    bulk(
        VerificationSession,
        (
            VerificationSession(
                person_id=pk,
                account=plain_account,
                project=project,
                consent_text=consent_text,
                channel="email",
                status="verified",
                created_at=now - timedelta(minutes=i),
            )
            for i, pk in enumerate(person_ids)
        ),
    )
    sessions = dict(VerificationSession.objects.values_list("person_id", "pk"))
    bulk(
        Invitation,
        (Invitation(session_id=sessions[pk], channel="email", expires_at=now) for pk in person_ids),
    )
    bulk(
        Consent,
        (
            Consent(
                person_id=pk,
                session_id=sessions[pk],
                text=consent_text,
                text_sha256=consent_text.sha256,
                project=project,
                intended_use="x",
                signature_name="x",
            )
            for pk in person_ids
        ),
    )
    bulk(
        AssetGroup,
        (
            AssetGroup(upstream_id=f"group-{pk}", person_id=pk, account=plain_account)
            for pk in person_ids
        ),
    )
    groups = AssetGroup.objects.values_list("pk", flat=True)
    bulk(
        Asset,
        (
            Asset(
                group_id=pk,
                kind="image",
                status="active",
                original_name="p.jpg",
                upstream_name=f"u{pk}",
                size_bytes=1,
                sha256="0" * 64,
            )
            for pk in groups
        ),
    )
    bulk(
        UpstreamCall,
        (
            UpstreamCall(account=plain_account, action="GetAsset", http_status=200)
            for _ in range(ROWS)
        ),
    )
    append_synthetic(ROWS)
    yield
    erase_ledger()


LISTS = [
    "verification_authorizingperson",
    "verification_verificationsession",
    "verification_invitation",
    "verification_consent",
    "assets_assetgroup",
    "assets_asset",
    "upstream_upstreamcall",
    "ledger_auditevent",
]


def test_lists_of_100k_rows_answer_quickly(admin_client, crowded):
    slow, chatty = {}, {}
    for name in LISTS:
        url = reverse(f"admin:{name}_changelist")
        admin_client.get(url)  # warm: templates, permissions
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(url)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        if elapsed >= SECONDS_PER_PAGE:
            slow[name] = round(elapsed, 2)
        if len(queries) > 12:
            chatty[name] = [q["sql"][:160] for q in queries]
    assert (slow, chatty) == ({}, {})

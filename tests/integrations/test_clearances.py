from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assets.models import Asset
from integrations import outbox
from integrations.models import Clearance, ClearanceItem
from ledger.models import AuditEvent
from ledger.services import Actor
from verification import withdrawal
from verification.models import Consent, Project

pytestmark = pytest.mark.django_db


def active_assets(group, n, kind="image"):
    consent = Consent.objects.get(session=group.session)
    return [
        Asset.objects.create(
            group=group,
            kind=kind,
            status=Asset.Status.ACTIVE,
            original_name=f"{i}.jpg",
            upstream_name=f"sitter-{kind}-{i}",
            upstream_id=f"asset-{kind}-{i}",
            size_bytes=1,
            sha256="0" * 64,
            consent=consent,
        )
        for i in range(n)
    ]


def clear(api, project, references, **extra):
    return api.post(
        "/api/v1/clearances", {"assets": references, "project": f"prj_{project.pk}", **extra}
    )


def test_active_assets_under_a_live_consent_are_cleared_and_the_answer_is_evidence(
    api, verified_group, project
):
    asset = active_assets(verified_group, 1)[0]
    response = clear(api, project, [f"asset://{asset.upstream_id}"], intended_use="shot 12")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["allowed"] is True and body["id"].startswith("clr_")
    item = body["assets"][0]
    assert item["allowed"] and item["reason"] == "cleared" and item["asset"] == f"ast_{asset.pk}"
    assert item["consent"] == f"con_{asset.consent_id}" and item["valid_until"] is None
    event = AuditEvent.objects.get(action="usage.cleared")
    assert event.payload["clearance"] == body["id"] and event.payload["intended_use"] == "shot 12"
    assert api.get(f"/api/v1/clearances/{body['id']}").json() == body


def test_each_reason_for_refusal(api, verified_group, project):
    image = active_assets(verified_group, 1)[0]
    consent = image.consent
    Consent.objects.filter(pk=consent.pk).update(media_kinds=["video"])
    other = Project.objects.create(name="Other", intended_use="x")
    processing = active_assets(verified_group, 1, kind="video")[0]
    Asset.objects.filter(pk=processing.pk).update(status=Asset.Status.PROCESSING)
    body = clear(
        api, project, [f"ast_{image.pk}", f"ast_{processing.pk}", "asset://nope", "ast_x"]
    ).json()
    assert [a["reason"] for a in body["assets"]] == [
        "kind_not_covered",
        "asset_not_active",
        "unknown",
        "unknown",
    ]
    assert body["allowed"] is False
    assert AuditEvent.objects.filter(action="usage.refused").count() == 1
    Consent.objects.filter(pk=consent.pk).update(media_kinds=["image"])
    assert clear(api, other, [f"ast_{image.pk}"]).json()["assets"][0]["reason"] == "other_project"
    Consent.objects.filter(pk=consent.pk).update(
        term_ends_on=timezone.now().date() - timedelta(days=1)
    )
    assert clear(api, project, [f"ast_{image.pk}"]).json()["assets"][0]["reason"] == "expired"
    Consent.objects.filter(pk=consent.pk).update(withdrawn_at=timezone.now())
    assert clear(api, project, [f"ast_{image.pk}"]).json()["assets"][0]["reason"] == "withdrawn"
    assert clear(api, project, []).status_code == 422
    assert clear(api, project, ["x"] * 201).status_code == 422
    most = clear(
        api, project, [f"ast_{image.pk}"] * 100 + [f"asset://{'x' * 190}{i}" for i in range(100)]
    )
    assert most.status_code == 201  # the ledger payload stays small whatever was named


def test_valid_until_is_the_end_of_the_consents_last_day(api, verified_group, project):
    asset = active_assets(verified_group, 1)[0]
    last_day = timezone.now().date() + timedelta(days=30)
    Consent.objects.filter(pk=asset.consent_id).update(term_ends_on=last_day)
    item = clear(api, project, [f"ast_{asset.pk}"]).json()["assets"][0]
    assert item["valid_until"].startswith((last_day + timedelta(days=1)).isoformat())


def test_a_clearance_costs_the_same_queries_for_one_asset_and_for_fifty(
    api, verified_group, project
):
    assets = active_assets(verified_group, 50)
    clear(api, project, [f"ast_{assets[0].pk}"])  # warm: the key's last use is written once

    def count(refs):
        with CaptureQueriesContext(connection) as queries:
            assert clear(api, project, refs).json()["allowed"] is True
        return len(queries)

    one = count([f"ast_{assets[0].pk}"])
    fifty = count([f"asset://{a.upstream_id}" for a in assets])
    assert one == fifty <= 12


def test_withdrawal_voids_the_clearances_and_the_webhook_names_them(api, verified_group, project):
    asset = active_assets(verified_group, 1)[0]
    cleared = clear(api, project, [f"ast_{asset.pk}"]).json()
    outbox.sweep()
    withdrawal.withdraw_consent(consent=asset.consent, actor=Actor.person(asset.group.person_id))
    outbox.sweep()
    item = ClearanceItem.objects.get(clearance__public_id=cleared["id"])
    assert item.voided_at is not None and item.void_reason == "withdrawn"
    from integrations.models import WebhookEvent

    event = WebhookEvent.objects.get(type="consent.withdrawn")
    assert event.payload["data"]["clearances_voided"] == [cleared["id"]]
    again = api.get(f"/api/v1/clearances/{cleared['id']}").json()
    assert again["allowed"] is False and again["assets"][0]["reason"] == "withdrawn"
    assert clear(api, project, [f"ast_{asset.pk}"]).json()["assets"][0]["reason"] == "withdrawn"
    assert Clearance.objects.count() == 2


def test_deleting_an_asset_voids_its_clearances_only(api, verified_group, project, simulator):
    from assets.services import delete_asset
    from integrations.models import WebhookEvent

    kept, deleted = active_assets(verified_group, 2)
    both = clear(api, project, [f"ast_{kept.pk}", f"ast_{deleted.pk}"]).json()
    Asset.objects.filter(pk=deleted.pk).update(upstream_id="")  # nothing to delete upstream
    delete_asset(asset=Asset.objects.get(pk=deleted.pk), actor=Actor.system(), reason="test")
    outbox.sweep()
    items = {i.asset_id: i for i in ClearanceItem.objects.filter(clearance__public_id=both["id"])}
    assert items[deleted.pk].void_reason == "asset_deleted" and items[kept.pk].voided_at is None
    event = WebhookEvent.objects.get(type="asset.deleted")
    assert event.payload["data"]["clearances_voided"] == [both["id"]]
    again = api.get(f"/api/v1/clearances/{both['id']}").json()
    assert again["allowed"] is False
    assert [a["allowed"] for a in again["assets"]] == [True, False]

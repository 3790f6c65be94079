"""Deleting goes through the domain's one path, from the admin and from the staff page alike: the
asset upstream first, then the copy here, with who and why in the ledger. The admin's own delete
(which would remove rows and leave things live upstream) is not offered for assets, groups,
sessions or persons."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from assets.models import Asset, AssetGroup
from ledger.models import AuditEvent
from tests.admin.test_actions import act, said
from tests.journey import make_verified_group
from tests.upstream.media import voice
from upstream.errors import AssetNotFound
from upstream.factory import client_for
from upstream.types import AssetType, InlineSource
from verification.models import AuthorizingPerson, Consent, VerificationSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_asset(person, account, project, consent_text, staff_user, simulator, tmp_path) -> Asset:
    """An asset that is Active at the simulator, with its stored copy here."""
    group = make_verified_group(person, account, project, consent_text, staff_user, simulator)
    upstream_id = client_for(account).create_asset(
        group_id=group.upstream_id,
        name="voice-1",
        asset_type=AssetType.AUDIO,
        source=InlineSource(voice(tmp_path / "voice.wav"), "audio/wav"),
    )
    asset = Asset.objects.create(
        group=group,
        kind="audio",
        original_name="voice.wav",
        upstream_name="voice-1",
        size_bytes=1,
        sha256="a" * 64,
        upstream_id=upstream_id,
        status=Asset.Status.ACTIVE,
        consent=Consent.objects.get(session=group.session),
    )
    asset.file.save("voice-1.wav", ContentFile(b"RIFF"))
    return asset


def assert_deleted_everywhere(asset: Asset, *, by: str, reason: str) -> None:
    asset.refresh_from_db()
    assert asset.status == Asset.Status.DELETED and not asset.file
    with pytest.raises(AssetNotFound):
        client_for(asset.group.account).get_asset(asset_id=asset.upstream_id)
    event = AuditEvent.objects.get(action="asset.deleted", subject_id=str(asset.pk))
    assert (event.actor_kind, event.actor_label) == ("staff", by)
    assert event.payload["reason"] == reason


def test_the_admin_offers_no_row_delete_that_would_bypass_the_upstream(admin_client, live_asset):
    group = live_asset.group
    rows = [
        (Asset, live_asset.pk),
        (AssetGroup, group.pk),
        (VerificationSession, group.session_id),
        (AuthorizingPerson, group.person_id),
    ]
    for model, pk in rows:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert admin_client.get(reverse(f"{name}_delete", args=[pk])).status_code == 403
        assert (
            admin_client.post(reverse(f"{name}_delete", args=[pk]), {"post": "yes"}).status_code
            == 403
        )
        act(admin_client, model, "delete_selected", [model(pk=pk)], post="yes")
        assert model._default_manager.filter(pk=pk).exists(), model
    live_asset.refresh_from_db()
    assert live_asset.status == Asset.Status.ACTIVE
    client_for(group.account).get_asset(asset_id=live_asset.upstream_id)  # still there upstream


def test_the_admin_deletes_an_asset_through_the_deletion_path(admin_client, live_asset):
    page = act(admin_client, Asset, "delete_upstream", [live_asset])
    assert "Delete these assets" in page.text and "voice.wav" in page.text
    live_asset.refresh_from_db()
    assert live_asset.status == Asset.Status.ACTIVE  # asking changes nothing
    unexplained = act(admin_client, Asset, "delete_upstream", [live_asset], confirmed="yes")
    assert "the reason is kept" in unexplained.text
    response = act(
        admin_client,
        Asset,
        "delete_upstream",
        [live_asset],
        confirmed="yes",
        reason="Uploaded by mistake",
    )
    assert said(response) == ["1 asset deleted upstream and here."]
    assert_deleted_everywhere(live_asset, by="admin", reason="Uploaded by mistake")


def test_the_staff_page_asks_before_deleting_and_records_why(staff_client, live_asset):
    url = f"/assets/{live_asset.pk}/delete/"
    asked = staff_client.post(url)  # the list's Delete button
    assert asked.status_code == 200 and b"Delete voice.wav?" in asked.content
    assert staff_client.get(url).status_code == 200
    unexplained = staff_client.post(url, {"confirmed": "yes", "reason": ""})
    assert unexplained.status_code == 400
    live_asset.refresh_from_db()
    assert live_asset.status == Asset.Status.ACTIVE
    done = staff_client.post(url, {"confirmed": "yes", "reason": "The person asked"})
    assert done.status_code == 302
    assert_deleted_everywhere(live_asset, by="staffer", reason="The person asked")


def test_a_service_call_by_staff_without_a_reason_is_refused(live_asset, staff_user):
    from assets.services import delete_asset
    from ledger.services import Actor

    with pytest.raises(ValueError, match="reason"):
        delete_asset(asset=live_asset, actor=Actor.staff(staff_user), reason=" ")
    live_asset.refresh_from_db()
    assert live_asset.status == Asset.Status.ACTIVE

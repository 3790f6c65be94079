"""reconcile_upstream against the simulator: report drift, fix what is safe, leave the rest."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from assets.models import Asset, AssetGroup
from ledger.models import AuditEvent
from tests.journey import make_verified_group
from tests.upstream.media import voice
from upstream.factory import client_for
from upstream.types import AssetType, InlineSource

pytestmark = pytest.mark.django_db
Status = Asset.Status


@pytest.fixture
def group(person, account, project, consent_text, staff_user, simulator) -> AssetGroup:
    return make_verified_group(person, account, project, consent_text, staff_user, simulator)


@pytest.fixture
def upload(group, tmp_path):
    """An asset made at the upstream, and optionally its row here with `status`."""
    sample = voice(tmp_path / "voice.wav")
    client = client_for(group.account)

    def make(name: str, status: str | None) -> tuple[str, Asset | None]:
        upstream_id = client.create_asset(
            group_id=group.upstream_id,
            name=name,
            asset_type=AssetType.AUDIO,
            source=InlineSource(sample, "audio/wav"),
        )
        if status is None:
            return upstream_id, None
        asset = Asset.objects.create(
            group=group,
            kind="audio",
            original_name=f"{name}.wav",
            upstream_name=name,
            size_bytes=sample.stat().st_size,
            sha256="c" * 64,
            upstream_id=upstream_id,
            status=status,
            forwarded_at=timezone.now(),
        )
        return upstream_id, asset

    return make


@pytest.fixture
def drifted(upload, group):
    """One of each kind of drift, and one asset that agrees."""
    _, agreeing = upload("agrees", Status.ACTIVE)
    _, unfollowed = upload("unfollowed", Status.PROCESSING)
    gone_id, gone = upload("gone", Status.ACTIVE)
    client_for(group.account).delete_asset(asset_id=gone_id)
    _, deleted_here = upload("deleted-here", Status.DELETED)
    unknown_id, _ = upload("made-elsewhere", None)
    return {
        "agrees": agreeing,
        "unfollowed": unfollowed,
        "gone": gone,
        "deleted_here": deleted_here,
        "unknown": unknown_id,
    }


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile_upstream", *args, stdout=out)
    return out.getvalue()


def listed(group) -> set[str]:
    return {
        info.id for info in client_for(group.account).iter_assets(group_ids=[group.upstream_id])
    }


def test_it_reports_drift_and_changes_nothing_without_fix(drifted, group):
    out = reconcile()
    assert f"{group.account.name} / {group.upstream_id}: drift (4 here, 4 upstream)" in out
    assert f"not followed up: asset {drifted['unfollowed'].pk}" in out
    assert f"gone upstream: asset {drifted['gone'].pk}" in out
    assert f"deleted here only: asset {drifted['deleted_here'].pk}" in out
    assert f"unknown upstream: no asset here, upstream {drifted['unknown']}" in out
    assert f"asset {drifted['agrees'].pk}," not in out
    assert "1 group(s) compared, 4 difference(s), 4 left unresolved." in out
    drifted["unfollowed"].refresh_from_db()
    assert drifted["unfollowed"].status == Status.PROCESSING
    with pytest.raises(CommandError, match="4 left unresolved"):
        reconcile("--fail-on-drift")


def test_fix_repairs_the_safe_differences_and_leaves_the_rest(drifted, group):
    out = reconcile("--fix")
    assert "3 left unresolved" not in out and "1 left unresolved" in out
    for name in ("unfollowed", "gone", "deleted_here"):
        drifted[name].refresh_from_db()
    assert drifted["unfollowed"].status == Status.ACTIVE
    assert drifted["gone"].status == Status.DELETED
    assert drifted["deleted_here"].upstream_id not in listed(group)
    assert drifted["unknown"] in listed(group)  # never deleted: the portal didn't make it
    gone = AuditEvent.objects.get(action="asset.gone_upstream")
    assert gone.subject_id == str(drifted["gone"].pk) and gone.actor_label == "reconcile_upstream"
    again = reconcile()
    assert "1 difference(s), 1 left unresolved" in again and "unknown upstream" in again


def test_fix_never_marks_assets_gone_when_the_upstream_lists_nothing(upload, group):
    upstream_id, asset = upload("only-one", Status.ACTIVE)
    client_for(group.account).delete_asset(asset_id=upstream_id)
    out = reconcile("--fix")
    assert "is the account's credential the one that made it?" in out
    asset.refresh_from_db()
    assert asset.status == Status.ACTIVE


def test_it_reports_an_upstream_it_cannot_reach_and_goes_on(group, settings):
    group.account.base_url = "http://127.0.0.1:9"
    group.account.save()
    settings.UPSTREAM_READ_ATTEMPTS = 1
    settings.UPSTREAM_CONNECT_TIMEOUT = 0.5
    out = reconcile()
    assert ": ERROR" in out and "could not list the group at the upstream" in out

"""Forwarding creates exactly one upstream asset per file, whatever fails along the way."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from assets import services
from assets.models import Asset
from assets.tasks import forward_asset

pytestmark = pytest.mark.django_db
Status = Asset.Status


@pytest.fixture
def validated_asset(staff_client, verified_group, media, settings) -> Asset:
    settings.ASSET_FORWARDING_MODE = "inline"
    with media.image((800, 1000)).open("rb") as handle:
        response = staff_client.post(
            f"/groups/{verified_group.pk}/upload/",
            {"files": SimpleUploadedFile("me.jpg", handle.read())},
            headers={"Accept": "application/json"},
        )
    return Asset.objects.get(pk=response.json()["assets"][0]["id"])


def upstream_assets_named(simulator, name: str) -> list[dict]:
    """Live upstream assets with this Name, across every credential."""
    credentials = simulator.control("GET", "state")["credentials"].values()
    return [
        asset
        for credential in credentials
        for asset in credential["assets"]
        if asset["name"] == name and not asset.get("deleted")
    ]


def create_requests(simulator) -> int:
    return len(simulator.requests_for("CreateAsset"))


def test_a_duplicate_task_sends_nothing_twice(validated_asset, simulator):
    services.forward(asset_id=validated_asset.pk)
    services.forward(asset_id=validated_asset.pk)
    forward_asset.apply(args=[validated_asset.pk])  # a redelivered message, run as a worker would
    validated_asset.refresh_from_db()
    assert validated_asset.status == Status.PROCESSING
    assert create_requests(simulator) == 1


def test_the_upstream_committing_then_dropping_the_answer_leaves_one_asset(
    validated_asset, simulator
):
    simulator.control(
        "POST", "faults", json={"action": "CreateAsset", "kind": "commit_then_drop", "count": 1}
    )
    # The answer is lost; the client finds the committed asset by its unique name and adopts it.
    services.forward(asset_id=validated_asset.pk)
    services.forward(asset_id=validated_asset.pk)  # a duplicate task on top changes nothing
    validated_asset.refresh_from_db()
    assert validated_asset.status == Status.PROCESSING and validated_asset.upstream_id
    assert create_requests(simulator) == 1
    assert len(upstream_assets_named(simulator, validated_asset.upstream_name)) == 1


def test_a_worker_killed_mid_forward_is_taken_over_after_its_lease(
    validated_asset, simulator, settings
):
    # The dead worker claimed it (status forwarding, lease held) and sent the request.
    Asset.objects.filter(pk=validated_asset.pk).update(
        status=Status.FORWARDING, lease_until=timezone.now() + settings.ASSET_FORWARD_LEASE
    )
    from upstream.factory import client_for
    from upstream.types import AssetType, InlineSource

    group = validated_asset.group
    client_for(group.account).create_asset(
        group_id=group.upstream_id,
        name=validated_asset.upstream_name,
        asset_type=AssetType.IMAGE,
        source=InlineSource(
            path=__import__("pathlib").Path(validated_asset.file.path), content_type="image/jpeg"
        ),
    )
    services.forward(asset_id=validated_asset.pk)  # lease still held: nothing happens
    assert create_requests(simulator) == 1
    later = timezone.now() + settings.ASSET_FORWARD_LEASE + timedelta(seconds=1)
    with time_machine.travel(later):
        assert validated_asset.pk in services.stalled_forwarding_ids()
        services.forward(asset_id=validated_asset.pk)
    validated_asset.refresh_from_db()
    assert validated_asset.status == Status.PROCESSING
    assert create_requests(simulator) == 1  # found by name, not created again
    assert len(upstream_assets_named(simulator, validated_asset.upstream_name)) == 1


def test_throttling_slows_forwarding_down_instead_of_failing(validated_asset, simulator):
    simulator.control(
        "POST",
        "faults",
        json={"action": "CreateAsset", "kind": "rate_limit", "count": 5, "retry_after": 7},
    )
    with pytest.raises(services.ForwardLater) as later:
        services.forward(asset_id=validated_asset.pk)
    assert later.value.delay >= 7
    validated_asset.refresh_from_db()
    assert validated_asset.status == Status.VALIDATED
    assert "Not sent yet" in validated_asset.error_message


def test_an_upstream_that_does_not_answer_is_retried_later(validated_asset, simulator, settings):
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    simulator.control(
        "POST", "faults", json={"action": "CreateAsset", "kind": "hang", "count": 1, "seconds": 2}
    )
    with pytest.raises(services.ForwardLater):
        services.forward(asset_id=validated_asset.pk)
    validated_asset.refresh_from_db()
    assert validated_asset.status == Status.VALIDATED
    services.forward(asset_id=validated_asset.pk)
    validated_asset.refresh_from_db()
    assert validated_asset.status == Status.PROCESSING
    assert len(upstream_assets_named(simulator, validated_asset.upstream_name)) == 1
    # The simulator logs the hung request only when its hang ends; wait, so later tests count clean.
    deadline = time.monotonic() + 5
    while create_requests(simulator) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)

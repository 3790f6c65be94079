"""Comparing each asset group with what the upstream holds, and repairing the safe differences.

Drift has few causes: a status answer that never came (the sweep was down), an asset deleted at
the upstream by hand, an upload whose create answer was lost. `reconcile_group` lists the group
at the upstream (ListAssets by GroupIds) and compares asset by asset. With `fix`:

- an asset still processing here is re-checked through `refresh_status` (it moves on to Active or
  Failed exactly as the worker would);
- an asset deleted here but still at the upstream is deleted there;
- an asset Active here and gone at the upstream — confirmed by GetAsset, and only when the
  listing showed other assets of the group, so a wrong token can't make everything look gone —
  is marked deleted, with an `asset.gone_upstream` event.

Everything else (statuses that disagree on finished assets, upstream assets the portal never
made) is reported for a person to decide, as are, from `reconcile_storage`, files in media
storage (MEDIA_ROOT or the bucket) that no asset names, and assets whose file is gone.

Groups: a group is confirmed through the assets the upstream lists in it, or else by
ListAssetGroups; LivenessFace groups may be missing from that list (CONTRACT.md §1), so a group
neither shows is reported as not confirmed, never as missing.
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from assets import storage
from assets.models import Asset, AssetGroup
from assets.services import refresh_status
from ledger.services import Actor, record
from upstream.client import UpstreamClient
from upstream.errors import AssetNotFound, UpstreamError
from upstream.factory import client_for
from upstream.types import AssetInfo

logger = logging.getLogger(__name__)
Status = Asset.Status
ACTOR = Actor.system("reconcile_upstream")
IN_FLIGHT = (Status.RECEIVED, Status.VALIDATED, Status.FORWARDING)
# Our finished statuses, and the upstream statuses that agree with them.
AGREEING: dict[str, tuple[str, ...]] = {
    Status.ACTIVE: ("Active",),
    Status.FAILED: ("Failed",),
    Status.INACTIVE: ("Inactive",),
}
# How a group's existence upstream was established (GroupReport.presence).
THROUGH_ASSETS = "confirmed through the assets listed in it"
LISTED = "listed by ListAssetGroups"
UNCONFIRMED = (
    "not confirmed: it holds no assets upstream and ListAssetGroups doesn't list it (it may "
    "leave LivenessFace groups out), so whether it still exists can't be told without a paid "
    "upload"
)


@dataclass
class Difference:
    kind: str
    asset_id: int | None
    upstream_id: str
    ours: str
    theirs: str
    fixed: bool = False
    note: str = ""

    def __str__(self) -> str:
        local = f"asset {self.asset_id}" if self.asset_id else "no asset here"
        outcome = "fixed" if self.fixed else "left as is"
        text = f"{self.kind}: {local}, upstream {self.upstream_id or '-'} "
        text += f"(here: {self.ours or '-'}, upstream: {self.theirs or '-'}) — {outcome}"
        return f"{text}; {self.note}" if self.note else text


@dataclass
class GroupReport:
    group: AssetGroup
    upstream_count: int = 0
    local_count: int = 0
    differences: list[Difference] = field(default_factory=list)
    error: str = ""
    presence: str = ""

    @property
    def unresolved(self) -> int:
        return sum(1 for d in self.differences if not d.fixed) + (1 if self.error else 0)


def groups_to_check(*, account: str = "", group: str = "") -> list[AssetGroup]:
    queryset = AssetGroup.objects.filter(deleted_at__isnull=True).select_related("account")
    if account:
        queryset = queryset.filter(account__name=account)
    if group:
        queryset = queryset.filter(upstream_id=group)
    return list(queryset.order_by("account_id", "pk"))


def reconcile_group(group: AssetGroup, *, fix: bool = False) -> GroupReport:
    report = GroupReport(group=group)
    client = client_for(group.account)
    try:
        upstream = {info.id: info for info in client.iter_assets(group_ids=[group.upstream_id])}
    except UpstreamError as error:
        report.error = f"could not list the group at the upstream: {error}"
        return report
    report.upstream_count = len(upstream)
    try:
        report.presence = _presence(client, group, listed_assets=len(upstream))
    except UpstreamError as error:
        report.presence = f"not confirmed: ListAssetGroups failed ({error.code})"
    ours = list(group.assets.select_related("group__account").order_by("pk"))
    report.local_count = len(ours)
    known = {asset.upstream_id for asset in ours if asset.upstream_id}
    waiting_names = {
        asset.upstream_name
        for asset in ours
        if not asset.upstream_id and asset.status in (Status.VALIDATED, Status.FORWARDING)
    }
    for asset in ours:
        if asset.upstream_id:
            _compare(report, asset, upstream.get(asset.upstream_id), fix=fix, listing=upstream)
    for info in upstream.values():
        if info.id in known:
            continue
        note = (
            "an upload here is still being sent under this name; forwarding will adopt it"
            if info.name in waiting_names
            else "not made by this portal, or its record here is lost"
        )
        report.differences.append(
            Difference("unknown upstream", None, info.id, "", info.status.value, note=note)
        )
    return report


def _presence(client: UpstreamClient, group: AssetGroup, *, listed_assets: int) -> str:
    """Whether the group is known upstream. ListAssetGroups may leave LivenessFace groups out
    (CONTRACT.md §1, seen), so a group absent there is never "missing": assets listed in it
    confirm it, and the group list is asked only when there are none."""
    if listed_assets:
        return THROUGH_ASSETS
    for found in client.iter_groups(group_id=group.upstream_id):
        if found.id == group.upstream_id:
            return LISTED
    return UNCONFIRMED


def _compare(
    report: GroupReport,
    asset: Asset,
    info: AssetInfo | None,
    *,
    fix: bool,
    listing: dict[str, AssetInfo],
) -> None:
    if asset.status in IN_FLIGHT:
        return  # forwarding is under way; it settles by itself
    theirs = info.status.value if info else "missing"
    if asset.status == Status.PROCESSING:
        if info is not None and info.status.is_processing:
            return
        difference = Difference(
            "not followed up", asset.pk, asset.upstream_id, "processing", theirs
        )
        if fix:
            checked = refresh_status(asset=asset)
            difference.fixed = checked.status != Status.PROCESSING
            difference.note = f"now {checked.get_status_display().lower()} here"
    elif info is None:
        if asset.status != Status.ACTIVE:
            return  # deleted, failed or refused here, and absent there: they agree
        difference = Difference("gone upstream", asset.pk, asset.upstream_id, "active", theirs)
        if fix:
            _settle_gone(asset, difference, listing_empty=not listing)
    elif asset.status == Status.DELETED:
        difference = Difference("deleted here only", asset.pk, asset.upstream_id, "deleted", theirs)
        if fix:
            _delete_upstream(asset, difference)
    elif theirs in AGREEING.get(asset.status, ()):
        return
    else:
        difference = Difference("status differs", asset.pk, asset.upstream_id, asset.status, theirs)
    report.differences.append(difference)


def _delete_upstream(asset: Asset, difference: Difference) -> None:
    try:
        client_for(asset.group.account).delete_asset(asset_id=asset.upstream_id)
    except AssetNotFound:
        pass
    except UpstreamError as error:
        difference.note = f"the delete failed: {error.code}"
        return
    difference.fixed = True
    difference.note = "deleted at the upstream"


def _settle_gone(asset: Asset, difference: Difference, *, listing_empty: bool) -> None:
    if listing_empty:
        difference.note = (
            "the upstream lists nothing at all in this group: is the account's credential the "
            "one that made it?"
        )
        return
    try:
        client_for(asset.group.account).get_asset(
            asset_id=asset.upstream_id, group_id=asset.group.upstream_id
        )
    except AssetNotFound:
        pass
    except UpstreamError as error:
        difference.note = f"could not confirm: {error.code}"
        return
    else:
        difference.note = "GetAsset still finds it; left as is"
        return
    with transaction.atomic():
        if asset.move(Status.ACTIVE, Status.DELETED, completed_at=timezone.now()):
            record(
                action="asset.gone_upstream",
                actor=ACTOR,
                subject=asset,
                person_id=asset.group.person_id,
                payload={"upstream_id": asset.upstream_id, "sha256": asset.sha256},
            )
    difference.fixed = True
    difference.note = "marked deleted here"


@dataclass
class StorageReport:
    """Stored files and asset rows that don't match: `unowned` files no row names (an upload
    whose row was never written, or a deletion that stopped halfway), `missing` rows whose file
    is gone from storage. Reported only: which copy is right is for a person to decide."""

    unowned: list[str] = field(default_factory=list)
    missing: list[tuple[int, str]] = field(default_factory=list)
    error: str = ""

    @property
    def unresolved(self) -> int:
        return len(self.unowned) + len(self.missing) + (1 if self.error else 0)


def reconcile_storage() -> StorageReport:
    """Compare the files kept in media storage (MEDIA_ROOT or the bucket) with the asset rows."""
    report = StorageReport()
    try:
        stored = set(storage.stored_names())
    except storage.STORAGE_ERRORS as error:
        report.error = f"could not list media storage: {error}"
        return report
    named = dict(Asset.objects.exclude(file="").order_by("pk").values_list("file", "pk"))
    report.unowned = sorted(stored - named.keys())
    report.missing = sorted((pk, name) for name, pk in named.items() if name not in stored)
    return report

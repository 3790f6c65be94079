"""Assets (CONTRACT.md §1 tables, §2 second state machine, §3 limits).

An asset belongs to the credential that created it; another credential gets
``NotFound.asset_id``.

An asset's fate is decided when it is created (media checks, then the face check, then
moderation) and revealed lazily: it reads ``Processing`` until ``ready_at``, then its outcome.
That keeps the simulator free of background threads, and moving the simulated clock
(``/_control/clock``) finishes processing without sleeping.

The face check is a rule, not a recognizer: a real one needs face-embedding model weights and
reference photos of the verified person, neither of which we can ship or would want tests to
depend on. Instead a test arms ``FaceMismatch`` for the next N face-checked uploads to a group, or
for all of them (``/_control/face-mismatch``); unarmed uploads pass. Face-checked means an image
or video in a LivenessFace group that passed the media checks; audio never is. Moderation
(``InputImageSensitiveContentDetected.PolicyViolation``) is armed the same way and is skipped
when the call asks for ``Moderation.Strategy: Skip``.
"""

import hashlib
import hmac
import secrets
import sqlite3
from typing import Any
from urllib.parse import urlencode

from upstream.simulator import groups, ingest, media
from upstream.simulator.core import (
    ApiError,
    Caller,
    Context,
    Upload,
    invalid,
    page_params,
    paged,
    text_param,
)
from upstream.simulator.store import Store, iso, new_id

ASSET_TYPES = ("Image", "Video", "Audio")
FACE_CHECKED = ("Image", "Video")
LINK_LIFETIME = 12 * 3600
FACE_MISMATCH = "face_mismatch"
MODERATION = "moderation"
INSERT_ASSET = """
INSERT INTO assets (id, owner, group_id, name, asset_type, project_name, created_at, ready_at,
    outcome, error_code, error_message, phantom, vanishes, via, size, sha256, content_type)
VALUES (:id, :owner, :group_id, :name, :asset_type, :project_name, :created_at, :ready_at,
    :outcome, :error_code, :error_message, :phantom, :vanishes, :via, :size, :sha256,
    :content_type)
"""


def _asset_not_found(asset_id: str) -> ApiError:
    return ApiError(404, "NotFound.asset_id", f"asset {asset_id} not found")


# -- armed failures -----------------------------------------------------------------------------


def arm(store: Store, *, group_id: str, kind: str, count: int, always: bool) -> None:
    """Make the next ``count`` checked uploads to ``group_id`` fail (or all, if ``always``)."""
    with store.tx() as db:
        db.execute(
            "INSERT OR REPLACE INTO arms (group_id, kind, remaining, always) VALUES (?, ?, ?, ?)",
            (group_id, kind, count, int(always)),
        )


def _take_arm(db: sqlite3.Connection, group_id: str, kind: str) -> bool:
    row = db.execute(
        "SELECT remaining, always FROM arms WHERE group_id = ? AND kind = ?", (group_id, kind)
    ).fetchone()
    if row is None:
        return False
    if row["always"]:
        return True
    if row["remaining"] <= 0:
        return False
    db.execute(
        "UPDATE arms SET remaining = remaining - 1 WHERE group_id = ? AND kind = ?",
        (group_id, kind),
    )
    return True


# -- assets -------------------------------------------------------------------------------------


def _moderation_skipped(params: dict[str, Any]) -> bool:
    moderation = params.get("Moderation")
    if moderation in (None, ""):
        return False
    if not isinstance(moderation, dict) or moderation.get("Strategy", "Default") not in (
        "Default",
        "Skip",
    ):
        raise invalid("Moderation.Strategy must be one of [Default, Skip].")
    return moderation.get("Strategy") == "Skip"


def _is_duplicate(db: sqlite3.Connection, group_id: str, name: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM assets WHERE group_id = ? AND name = ? AND deleted = 0 AND phantom = 0",
            (group_id, name),
        ).fetchone()
        is not None
    )


def create_asset(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    store = ctx.store
    group_id = text_param(params, "GroupId", required=True)
    name = text_param(params, "Name", required=True)
    asset_type = text_param(params, "AssetType", required=True)
    if asset_type not in ASSET_TYPES:
        raise invalid("AssetType must be one of [Image, Video, Audio].")
    if len(name) > 64:
        raise invalid("Name must be at most 64 characters.")
    skip_moderation = _moderation_skipped(params)
    url = text_param(params, "URL", required=upload is None)
    with store.tx() as db:
        group = groups.own(db, caller.owner, group_id)
        duplicate = _is_duplicate(db, group_id, name)
    asset = {
        "id": new_id("asset", store.now()),
        "owner": caller.owner,
        "group_id": group_id,
        "name": name,
        "asset_type": asset_type,
        "project_name": text_param(params, "ProjectName") or "default",
        "outcome": "Active",
        "error_code": "",
        "error_message": "",
        "phantom": 0,
        "vanishes": 0,
        "via": "multipart" if upload else "url",
        "size": 0,
        "sha256": "",
        "content_type": "application/octet-stream",
    }
    if duplicate:
        _refuse_or_phantom(store, asset)
    data = b"" if duplicate else _fetch(store, asset, url, upload)
    # Decoding can take a while: check before taking the store's lock.
    limits = media.limits_for(store.switch("video_pixel_range"))
    failure = media.check(data, asset_type, limits) if data else None
    with store.tx() as db:
        if not asset["phantom"] and _is_duplicate(db, group_id, name):
            _refuse_or_phantom(store, asset)  # a concurrent upload won the name
        if data and not asset["phantom"]:
            _decide(store, db, asset, failure, group["group_type"], skip_moderation)
        now = store.now()
        asset["created_at"] = now
        asset["ready_at"] = now + store.switch("processing_seconds")
        db.execute(INSERT_ASSET, asset)
        if data and not asset["phantom"]:
            db.execute("INSERT INTO blobs (asset_id, data) VALUES (?, ?)", (asset["id"], data))
    return {"Id": asset["id"]}


def _fetch(store: Store, asset: dict[str, Any], url: str, upload: Upload | None) -> bytes:
    """The file's bytes, recording where they came from; ``b""`` when the download failed and
    the ``download_failure`` switch turns that into a failed asset."""
    try:
        source = ingest.resolve(url, upload, timeout=store.switch("download_timeout_seconds"))
    except ingest.DownloadFailed as exc:
        message = f"Failed to download the file from URL: {exc}."
        if store.switch("download_failure") == "error":
            raise ApiError(400, "InvalidParameter.DownloadFailed", message) from None
        asset.update(
            outcome="Failed", error_code="InvalidParameter.DownloadFailed", error_message=message
        )
        return b""
    asset.update(
        via=source.via,
        size=len(source.data),
        sha256=hashlib.sha256(source.data).hexdigest(),
        content_type=source.content_type,
    )
    return source.data


def _refuse_or_phantom(store: Store, asset: dict[str, Any]) -> None:
    behaviour = store.switch("duplicate_name_behaviour")
    if behaviour == "reject":
        raise ApiError(
            400,
            "InvalidParameter.DuplicateName",
            f"An asset named {asset['name']} already exists in group {asset['group_id']}.",
        )
    if behaviour == "not_found":
        # The contract's table, read as the create itself failing (CONTRACT.md §1).
        raise _asset_not_found(asset["id"])
    # Seen live: the duplicate gets an Id that GetAsset then answers NotFound.asset_id.
    asset["phantom"] = 1


def _decide(
    store: Store,
    db: sqlite3.Connection,
    asset: dict[str, Any],
    failure: media.Failure | None,
    group_type: str,
    skip_moderation: bool,
) -> None:
    """Fix the asset's outcome: the media checks' ``failure``, else face check, else moderation."""
    if failure:
        asset["vanishes"] = int(store.switch("preprocessing_failures_vanish"))
    elif (
        group_type == "LivenessFace"
        and asset["asset_type"] in FACE_CHECKED
        and _take_arm(db, asset["group_id"], FACE_MISMATCH)
    ):
        failure = media.Failure(
            "FaceMismatch", "The face in the asset does not match the verified person."
        )
    elif (
        asset["asset_type"] in FACE_CHECKED
        and not skip_moderation
        and _take_arm(db, asset["group_id"], MODERATION)
    ):
        failure = media.Failure(
            "InputImageSensitiveContentDetected.PolicyViolation",
            "The input may contain sensitive content.",
        )
    if failure:
        asset.update(outcome="Failed", error_code=failure.code, error_message=failure.message)
    elif asset["via"] == "multipart" and store.switch("multipart_assets_stay_processing"):
        asset["outcome"] = "Processing"


def status(store: Store, row: sqlite3.Row) -> str:
    """What the upstream reports now for this asset."""
    if store.now() < row["ready_at"] or row["outcome"] == "Processing":
        return "Processing"
    if row["outcome"] == "Active" and store.switch("report_inactive_instead_of_active"):
        return "Inactive"
    return row["outcome"]


def _visible(store: Store, row: sqlite3.Row) -> bool:
    if row["deleted"] or row["phantom"]:
        return False
    return not (row["vanishes"] and store.now() >= row["ready_at"])


def signed_link(ctx: Context, asset_id: str) -> str:
    """A download link valid for 12 h; a fresh nonce makes it different on every read."""
    expires = str(int(ctx.store.now() + LINK_LIFETIME))
    nonce = secrets.token_hex(8)
    signature = _link_signature(ctx.store, asset_id, expires, nonce)
    query = urlencode({"expires": expires, "nonce": nonce, "signature": signature})
    return f"{ctx.public_url}/files/{asset_id}?{query}"


def _link_signature(store: Store, asset_id: str, expires: str, nonce: str) -> str:
    message = f"{asset_id}\n{expires}\n{nonce}".encode()
    return hmac.new(store.secret(), message, hashlib.sha256).hexdigest()


def link_is_valid(store: Store, asset_id: str, query: dict[str, str]) -> bool:
    expires, nonce = query.get("expires", ""), query.get("nonce", "")
    if not expires.isdigit() or int(expires) < store.now():
        return False
    expected = _link_signature(store, asset_id, expires, nonce)
    return hmac.compare_digest(expected, query.get("signature", ""))


def _asset_view(ctx: Context, row: sqlite3.Row, has_blob: bool) -> dict[str, Any]:
    current = status(ctx.store, row)
    ready = current != "Processing"
    view = {
        "Id": row["id"],
        "Name": row["name"],
        "URL": signed_link(ctx, row["id"]) if has_blob else "",
        "AssetType": row["asset_type"],
        "GroupId": row["group_id"],
        "Status": current,
        "ProjectName": row["project_name"],
        "CreateTime": iso(row["created_at"]),
        "UpdateTime": iso(row["ready_at"] if ready else row["created_at"]),
    }
    if current == "Failed":
        view["Error"] = {"Code": row["error_code"], "Message": row["error_message"]}
    return view


_ASSET_QUERY = (
    "SELECT assets.*, groups.group_type AS group_type,"
    " EXISTS (SELECT 1 FROM blobs WHERE blobs.asset_id = assets.id) AS has_blob"
    " FROM assets JOIN groups ON groups.id = assets.group_id WHERE assets.owner = ?"
)


def get_asset(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    asset_id = text_param(params, "Id", required=True)
    with ctx.store.tx() as db:
        row = db.execute(_ASSET_QUERY + " AND assets.id = ?", (caller.owner, asset_id)).fetchone()
    if row is None or not _visible(ctx.store, row):
        raise _asset_not_found(asset_id)
    if row["group_type"] == "LivenessFace" and not ctx.store.switch(
        "liveness_assets_visible_to_get_asset"
    ):
        raise _asset_not_found(asset_id)
    return _asset_view(ctx, row, bool(row["has_blob"]))


def list_assets(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    wanted = groups.filter_of(params)
    number, size = page_params(params)
    group_ids = wanted.get("GroupIds") or []
    statuses = wanted.get("Statuses") or []
    if not isinstance(group_ids, list) or not isinstance(statuses, list):
        raise invalid("Filter.GroupIds and Filter.Statuses must be arrays.")
    name = str(wanted.get("Name") or "")
    group_type = wanted.get("GroupType") or ""
    with ctx.store.tx() as db:
        rows = db.execute(
            _ASSET_QUERY + " ORDER BY assets.created_at DESC, assets.id DESC", (caller.owner,)
        ).fetchall()
    store = ctx.store
    matching = [
        row
        for row in rows
        if _visible(store, row)
        and (not group_ids or row["group_id"] in group_ids)
        and (not group_type or row["group_type"] == group_type)
        and name in row["name"]
        and (not statuses or status(store, row) in statuses)
    ]
    page = paged(matching, number, size)
    page["Items"] = [_asset_view(ctx, row, bool(row["has_blob"])) for row in page["Items"]]
    return page


def delete_asset(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    asset_id = text_param(params, "Id", required=True)
    with ctx.store.tx() as db:
        row = db.execute(
            "SELECT * FROM assets WHERE id = ? AND owner = ?", (asset_id, caller.owner)
        ).fetchone()
        if row is None or not _visible(ctx.store, row):
            raise _asset_not_found(asset_id)
        db.execute("UPDATE assets SET deleted = 1 WHERE id = ?", (asset_id,))
        db.execute("DELETE FROM blobs WHERE asset_id = ?", (asset_id,))
    return {"Id": asset_id, "Deleted": True}

"""Asset groups: ``AIGC`` ones created directly, ``LivenessFace`` ones only by verification.

A group belongs to the credential that created it (or created the verification session); any
other credential gets ``NotFound.group_id``. Deleting a group deletes its assets.
"""

import sqlite3
from typing import Any

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
from upstream.simulator.store import iso, new_id


def not_found(group_id: str) -> ApiError:
    return ApiError(404, "NotFound.group_id", f"asset group {group_id} not found")


def own(db: sqlite3.Connection, owner: str, group_id: str) -> sqlite3.Row:
    row = db.execute(
        "SELECT * FROM groups WHERE id = ? AND owner = ? AND deleted = 0", (group_id, owner)
    ).fetchone()
    if row is None:
        raise not_found(group_id)
    return row


def filter_of(params: dict[str, Any]) -> dict[str, Any]:
    value = params.get("Filter") or {}
    if not isinstance(value, dict):
        raise invalid("Filter must be an object.")
    return value


def create_group(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    name = text_param(params, "Name", required=True)
    group_type = text_param(params, "GroupType") or "AIGC"
    if group_type != "AIGC":
        raise invalid("GroupType must be one of [AIGC]")
    if len(name) > 64:
        raise invalid("Name must be at most 64 characters.")
    now = ctx.store.now()
    group_id = new_id("group", now)
    with ctx.store.tx() as db:
        db.execute(
            "INSERT INTO groups (id, owner, name, group_type, project_name, description,"
            " created_at) VALUES (?, ?, ?, 'AIGC', ?, ?, ?)",
            (
                group_id,
                caller.owner,
                name,
                text_param(params, "ProjectName") or "default",
                text_param(params, "Description"),
                now,
            ),
        )
    return {"Id": group_id}


def _group_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "Id": row["id"],
        "Name": row["name"],
        "GroupType": row["group_type"],
        "Description": row["description"],
        "ProjectName": row["project_name"],
        "CreateTime": iso(row["created_at"]),
        "UpdateTime": iso(row["created_at"]),
    }


def list_groups(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    wanted = filter_of(params)
    number, size = page_params(params)
    with ctx.store.tx() as db:
        rows = db.execute(
            "SELECT * FROM groups WHERE owner = ? AND deleted = 0 ORDER BY created_at DESC, id",
            (caller.owner,),
        ).fetchall()
    show_liveness = ctx.store.switch("liveness_groups_in_list")
    items = [
        _group_view(row)
        for row in rows
        if (show_liveness or row["group_type"] != "LivenessFace")
        and wanted.get("Id") in (None, "", row["id"])
        and wanted.get("GroupType") in (None, "", row["group_type"])
        and str(wanted.get("Name") or "") in row["name"]
    ]
    return paged(items, number, size)


def delete_group(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    group_id = text_param(params, "Id", required=True)
    with ctx.store.tx() as db:
        own(db, caller.owner, group_id)
        db.execute("UPDATE groups SET deleted = 1 WHERE id = ?", (group_id,))
        db.execute("UPDATE assets SET deleted = 1 WHERE group_id = ?", (group_id,))
        db.execute(
            "DELETE FROM blobs WHERE asset_id IN (SELECT id FROM assets WHERE group_id = ?)",
            (group_id,),
        )
    return {"Id": group_id, "Deleted": True}

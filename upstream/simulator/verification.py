"""Verification sessions (CONTRACT.md §2, first state machine).

``pending`` --phone opens the H5Link--> ``opened`` --Complete--> ``passed``
--browser follows the redirect towards the callback--> ``completed`` (LivenessFace group created)

``opened`` --Fail--> ``failed`` (redirected to the callback with a non-10000 resultCode, no group)

The group is created on the last hop, not when Complete is pressed: upstream creates it only once
the person's browser reaches the callback, and a person who closes the tab in between leaves
``GroupId`` empty forever. The H5 page models that hop as ``/h5/<opaque>/return``.

The link can be opened for ``link_ttl_seconds`` after creation; a page opened in time may still be
finished later. ``GetVisualValidateResult`` answers for ``result_token_ttl_seconds`` after creation.
"""

import secrets
import sqlite3
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from upstream.simulator.core import ApiError, Caller, Context, Upload, invalid, text_param
from upstream.simulator.store import Store, new_id, stamp

SUCCESS = 10000
DEFAULT_FAILURE = 10001


def create_session(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    callback = text_param(params, "CallbackURL", required=True)
    parts = urlsplit(callback)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("CallbackURL must be an absolute http(s) URL.")
    store = ctx.store
    now = store.now()
    token = stamp(now) + secrets.token_hex(10).upper()
    opaque = secrets.token_urlsafe(24)
    with store.tx() as db:
        db.execute(
            "INSERT INTO sessions (byted_token, owner, opaque, callback_url, created_at,"
            " link_expires_at, status) VALUES (?, ?, ?, ?, ?, ?, 'pending')",
            (token, caller.owner, opaque, callback, now, now + store.switch("link_ttl_seconds")),
        )
    return {"BytedToken": token, "H5Link": f"{ctx.public_url}/h5/{opaque}", "CallbackURL": callback}


def get_result(
    ctx: Context, caller: Caller, params: dict[str, Any], upload: Upload | None
) -> dict[str, Any]:
    token = text_param(params, "BytedToken", required=True)
    store = ctx.store
    with store.tx() as db:
        row = db.execute(
            "SELECT * FROM sessions WHERE byted_token = ? AND owner = ?", (token, caller.owner)
        ).fetchone()
        if row is None:
            raise ApiError(404, "NotFound.byted_token", f"BytedToken {token} not found.")
        if store.now() > row["created_at"] + store.switch("result_token_ttl_seconds"):
            raise ApiError(400, "InvalidParameter.BytedTokenExpired", "The BytedToken has expired.")
        if row["consumed"]:
            raise ApiError(
                400, "InvalidParameter.BytedTokenExpired", "The BytedToken has already been used."
            )
        if row["group_id"] and store.switch("result_token_single_use"):
            db.execute("UPDATE sessions SET consumed = 1 WHERE byted_token = ?", (token,))
    return {"GroupId": row["group_id"]}


# -- the phone's side (H5 page and control API) -------------------------------------------------


def by_opaque(store: Store, opaque: str) -> sqlite3.Row | None:
    with store.tx() as db:
        return db.execute("SELECT * FROM sessions WHERE opaque = ?", (opaque,)).fetchone()


def by_token(store: Store, token: str) -> sqlite3.Row | None:
    with store.tx() as db:
        return db.execute("SELECT * FROM sessions WHERE byted_token = ?", (token,)).fetchone()


def page_state(store: Store, row: sqlite3.Row) -> str:
    """``open`` (the person may act), ``expired`` or ``finished``."""
    if row["status"] in ("passed", "completed", "failed"):
        return "finished"
    now = store.now()
    if row["opened_at"] is None and now > row["link_expires_at"]:
        return "expired"
    if now > row["created_at"] + store.switch("result_token_ttl_seconds"):
        return "expired"
    return "open"


def mark_opened(store: Store, opaque: str) -> None:
    with store.tx() as db:
        db.execute(
            "UPDATE sessions SET opened_at = ?, status = 'opened'"
            " WHERE opaque = ? AND status = 'pending' AND link_expires_at >= ?",
            (store.now(), opaque, store.now()),
        )


def callback_url(row: sqlite3.Row) -> str:
    """The callback with the query the upstream appends (extra keys are undocumented)."""
    code = row["result_code"]
    extra = {
        "bytedToken": row["byted_token"],
        "resultCode": str(code),
        "algorithmBaseRespCode": "0" if code == SUCCESS else "-1",
        "reqMeasureInfoValue": "1" if code == SUCCESS else "0",
        "verify_type": "liveness",
    }
    parts = urlsplit(row["callback_url"])
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def finish(store: Store, opaque: str, *, result_code: int, person: str) -> sqlite3.Row | None:
    """The person pressed Complete (10000) or Fail (anything else) on an open page.

    Returns the updated row, or ``None`` when the page isn't open any more.
    """
    row = by_opaque(store, opaque)
    if row is None or page_state(store, row) != "open":
        return None
    status = "passed" if result_code == SUCCESS else "failed"
    with store.tx() as db:
        changed = db.execute(
            "UPDATE sessions SET status = ?, result_code = ?, person = ?, finished_at = ?,"
            " opened_at = COALESCE(opened_at, ?) WHERE opaque = ? AND status IN ('pending', 'opened')",
            (status, result_code, person, store.now(), store.now(), opaque),
        ).rowcount
    return by_opaque(store, opaque) if changed else None


def reach_callback(store: Store, opaque: str) -> sqlite3.Row | None:
    """The browser followed the redirect: create the LivenessFace group once (idempotent)."""
    with store.tx() as db:
        row = db.execute("SELECT * FROM sessions WHERE opaque = ?", (opaque,)).fetchone()
        if row is None or row["status"] not in ("passed", "completed"):
            return None
        if row["status"] == "passed":
            now = store.now()
            group_id = new_id("group", now)
            db.execute(
                "INSERT INTO groups (id, owner, name, group_type, project_name, person,"
                " created_at) VALUES (?, ?, ?, 'LivenessFace', 'default', ?, ?)",
                (group_id, row["owner"], f"liveness-{stamp(now)}", row["person"], now),
            )
            db.execute(
                "UPDATE sessions SET status = 'completed', group_id = ? WHERE opaque = ?",
                (group_id, opaque),
            )
        return db.execute("SELECT * FROM sessions WHERE opaque = ?", (opaque,)).fetchone()

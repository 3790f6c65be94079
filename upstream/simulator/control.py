"""The control API under ``/_control/``: JSON, no authentication, for tests and development.

The simulator binds to loopback by default; never expose this on a shared network.

=========================================  ==================================================
``GET  /_control/health``                  ``{"ok": true}``
``POST /_control/credentials``             seed-file shape: ``{"tokens": [{"token", "group"}],
                                           "keypairs": [{"access_key_id", "secret_access_key",
                                           "denied"?}]}`` -> ids (hashes) of each
``POST /_control/faults``                  ``{"action", "kind", "count", "status",
                                           "retry_after", "seconds", "adapter"?}`` (see faults)
``GET|DELETE /_control/faults``            list / clear pending faults
``POST /_control/rate-limits``             ``{"credential": <token, AK or id>, "per_second": N}``
``GET|POST /_control/switches``            read / change switches (partial object)
``POST /_control/face-mismatch``           ``{"group_id", "count": N}`` or ``"always": true``
``POST /_control/moderation``              same, for PolicyViolation
``POST /_control/sessions/<T>/complete``   ``{"result_code": 10000, "person", "abandon"?}``
``GET  /_control/requests``                ``?action=&adapter=&credential=&fault=``
``GET  /_control/state``                   everything, per credential, deleted rows included
``GET  /_control/downloads``               ``{"bytes_by_host": {"host:port": N}}``: who served
                                           the files fetched by URL since the last reset
``GET|POST /_control/clock``               ``{"advance_seconds": N}`` moves simulated time
``POST /_control/reset``                   clear all but credentials (``{"all": true}``: those too)
=========================================  ==================================================
"""

import html
import json
import re
from typing import Any

from upstream.simulator import faults, ingest, library, verification
from upstream.simulator.core import Context
from upstream.simulator.store import Store, iso
from upstream.simulator.switches import SwitchError
from upstream.simulator.web import Reply, Request, html_reply, json_reply

PREFIX = "/_control"
SESSION_COMPLETE_RE = re.compile(r"^/_control/sessions/(?P<token>[0-9A-F]{34})/complete$")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def register_credentials(store: Store, spec: Any) -> dict[str, Any]:
    """Add the tokens and key pairs of a seed-shaped object; returns their ids."""
    if not isinstance(spec, dict):
        raise ControlError(400, "expected an object with 'tokens' and/or 'keypairs'")
    tokens, keypairs = [], []
    for item in spec.get("tokens") or []:
        token, group = item.get("token"), item.get("group")
        if not (isinstance(token, str) and token and isinstance(group, str) and group):
            raise ControlError(400, "each token needs non-empty 'token' and 'group'")
        tokens.append({"id": store.add_token(token, group).id, "group": group})
    for item in spec.get("keypairs") or []:
        ak, sk = item.get("access_key_id"), item.get("secret_access_key")
        if not (isinstance(ak, str) and ak and isinstance(sk, str) and sk):
            raise ControlError(400, "each keypair needs 'access_key_id' and 'secret_access_key'")
        cred = store.add_keypair(ak, sk, bool(item.get("denied", False)))
        keypairs.append({"id": cred.id, "access_key_id": ak, "denied": cred.denied})
    return {"tokens": tokens, "keypairs": keypairs}


def _json(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise ControlError(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def _set_switches(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return store.set_switches(body)
    except SwitchError as exc:
        raise ControlError(400, str(exc)) from None


def _add_fault(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    try:
        fault = faults.add(store, body)
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    return {"id": fault.id, "kind": fault.kind, "action": fault.action, "count": fault.remaining}


def _rate_limit(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    credential = store.resolve_credential(str(body.get("credential", "")))
    if credential is None:
        raise ControlError(404, "unknown credential")
    per_second = body.get("per_second")
    if per_second is not None and (not isinstance(per_second, int | float) or per_second < 0):
        raise ControlError(400, "per_second must be a non-negative number or null")
    faults.set_rate_limit(store, credential.id, per_second)
    return {"credential": credential.id, "per_second": per_second or None}


def _arm(store: Store, body: dict[str, Any], kind: str) -> dict[str, Any]:
    group_id = body.get("group_id")
    with store.tx() as db:
        exists = db.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchone()
    if not exists:
        raise ControlError(404, "unknown group_id")
    always, count = bool(body.get("always", False)), body.get("count", 0 if "always" in body else 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ControlError(400, "count must be a non-negative integer")
    library.arm(store, group_id=str(group_id), kind=kind, count=count, always=always)
    return {"group_id": group_id, "kind": kind, "count": count, "always": always}


def _complete(store: Store, token: str, body: dict[str, Any]) -> dict[str, Any]:
    row = verification.by_token(store, token)
    if row is None:
        raise ControlError(404, "unknown BytedToken")
    code = body.get("result_code", verification.SUCCESS)
    if isinstance(code, bool) or not isinstance(code, int):
        raise ControlError(400, "result_code must be an integer")
    person = str(body.get("person") or "")
    finished = verification.finish(store, row["opaque"], result_code=code, person=person)
    if finished is None:
        raise ControlError(409, f"the session is {verification.page_state(store, row)}")
    if code == verification.SUCCESS and not body.get("abandon"):
        finished = verification.reach_callback(store, row["opaque"]) or finished
    return {
        "callback_url": verification.callback_url(finished),
        "group_id": finished["group_id"],
        "status": finished["status"],
    }


def _owner(kind: str = "unknown", group: str = "", denied: bool = False) -> dict[str, Any]:
    return {
        "kind": kind,
        "group": group,
        "denied": denied,
        "sessions": [],
        "groups": [],
        "assets": [],
    }


def _clear_faults(store: Store) -> dict[str, Any]:
    faults.clear(store)
    return {"faults": []}


def state(ctx: Context) -> dict[str, Any]:
    """Every credential with its sessions, groups and assets (deleted ones too)."""
    store = ctx.store
    with store.tx() as db:
        credentials = db.execute("SELECT id, kind, token_group, denied FROM credentials").fetchall()
        sessions = db.execute("SELECT * FROM sessions ORDER BY created_at").fetchall()
        groups = db.execute("SELECT * FROM groups ORDER BY created_at").fetchall()
        assets = db.execute("SELECT * FROM assets ORDER BY created_at").fetchall()
    owners = {
        row["id"]: _owner(row["kind"], row["token_group"], bool(row["denied"]))
        for row in credentials
    }
    for row in sessions:
        owners.setdefault(row["owner"], _owner())["sessions"].append(
            {
                "byted_token": row["byted_token"],
                "status": row["status"],
                "h5_link": f"{ctx.public_url}/h5/{row['opaque']}",
                "callback_url": row["callback_url"],
                "result_code": row["result_code"],
                "person": row["person"],
                "group_id": row["group_id"],
                "created": iso(row["created_at"]),
                "link_expires": iso(row["link_expires_at"]),
            }
        )
    for row in groups:
        owners.setdefault(row["owner"], _owner())["groups"].append(
            {
                "id": row["id"],
                "name": row["name"],
                "group_type": row["group_type"],
                "person": row["person"],
                "deleted": bool(row["deleted"]),
            }
        )
    for row in assets:
        owners.setdefault(row["owner"], _owner())["assets"].append(
            {
                "id": row["id"],
                "group_id": row["group_id"],
                "name": row["name"],
                "asset_type": row["asset_type"],
                "status": library.status(store, row),
                "error_code": row["error_code"],
                "via": row["via"],
                "size": row["size"],
                "sha256": row["sha256"],
                "phantom": bool(row["phantom"]),
                "vanishes": bool(row["vanishes"]),
                "deleted": bool(row["deleted"]),
            }
        )
    return {
        "credentials": owners,
        "switches": store.switches(),
        "faults": faults.pending(store),
        "clock_offset": store.clock_offset,
        "now": iso(store.now()),
    }


def handle(ctx: Context, request: Request) -> Reply:
    try:
        return _route(ctx, request)
    except ControlError as exc:
        return json_reply(exc.status, {"error": str(exc)})


def _route(ctx: Context, request: Request) -> Reply:
    store, path, method = ctx.store, request.path.rstrip("/"), request.method
    if path in ("", PREFIX) and method == "GET":
        return html_reply(200, index_page(state(ctx)))
    routes = {
        ("GET", "/_control/health"): lambda: {"ok": True},
        ("POST", "/_control/credentials"): lambda: register_credentials(store, _json(request)),
        ("GET", "/_control/faults"): lambda: {"faults": faults.pending(store)},
        ("POST", "/_control/faults"): lambda: _add_fault(store, _json(request)),
        ("DELETE", "/_control/faults"): lambda: _clear_faults(store),
        ("POST", "/_control/rate-limits"): lambda: _rate_limit(store, _json(request)),
        ("GET", "/_control/switches"): store.switches,
        ("POST", "/_control/switches"): lambda: _set_switches(store, _json(request)),
        ("POST", "/_control/face-mismatch"): lambda: _arm(
            store, _json(request), library.FACE_MISMATCH
        ),
        ("POST", "/_control/moderation"): lambda: _arm(store, _json(request), library.MODERATION),
        ("GET", "/_control/requests"): lambda: _requests(store, request.query),
        ("GET", "/_control/state"): lambda: state(ctx),
        ("GET", "/_control/downloads"): lambda: {"bytes_by_host": ingest.downloaded_bytes()},
        ("GET", "/_control/clock"): lambda: {"offset": store.clock_offset, "now": iso(store.now())},
        ("POST", "/_control/clock"): lambda: _advance(store, _json(request)),
        ("POST", "/_control/reset"): lambda: _reset(store, _json(request)),
    }
    action = routes.get((method, path))
    if action is not None:
        return json_reply(200, action())
    match = SESSION_COMPLETE_RE.match(path)
    if match and method == "POST":
        return json_reply(200, _complete(store, match["token"], _json(request)))
    raise ControlError(404, f"no control endpoint {method} {path}")


def _requests(store: Store, query: dict[str, str]) -> dict[str, Any]:
    """The request log; ``credential`` may be given raw (token or AK) or as its id."""
    if query.get("credential"):
        credential = store.resolve_credential(query["credential"])
        query = query | {"credential": credential.id if credential else query["credential"]}
    return {"requests": store.requests(query)}


def _advance(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    seconds = body.get("advance_seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ControlError(400, "advance_seconds must be a number")
    return {"offset": store.advance_clock(seconds), "now": iso(store.now())}


def _reset(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    store.reset(all_=bool(body.get("all")))
    ingest.forget_downloads()
    return {"reset": True}


def index_page(snapshot: dict[str, Any]) -> str:
    """A plain overview for people running the simulator by hand."""
    esc = html.escape
    parts = [f"<p>Simulated now: {esc(snapshot['now'])}</p>"]
    for owner, data in snapshot["credentials"].items():
        parts.append(
            f"<h2>{esc(owner)} <small>{esc(data['kind'])} {esc(data['group'])}</small></h2>"
        )
        for title, rows, keys in (
            ("Sessions", data["sessions"], ("byted_token", "status", "group_id", "h5_link")),
            ("Groups", data["groups"], ("id", "name", "group_type", "person", "deleted")),
            ("Assets", data["assets"], ("id", "name", "asset_type", "status", "error_code")),
        ):
            if not rows:
                continue
            head = "".join(f"<th>{esc(key)}</th>" for key in keys)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(str(row[key]))}</td>" for key in keys) + "</tr>"
                for row in rows
            )
            parts.append(f"<h3>{title}</h3><table><tr>{head}</tr>{body}</table>")
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Upstream simulator</title>'
        "<style>body{font:14px system-ui;margin:24px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head>"
        "<body><h1>Upstream simulator</h1>" + "".join(parts) + "</body></html>"
    )

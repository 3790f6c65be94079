"""SQLite state: everything the simulator knows survives a restart.

One connection guarded by a lock: the simulator is a test double serving a handful of clients,
and a single writer keeps every action atomic without retry loops. ``tx()`` is the only way in.

The simulated clock is wall time plus a persisted offset (``POST /_control/clock``), so tests can
expire links and finish processing without sleeping. Signature freshness uses real time instead,
since the client signs with the real clock.
"""

import hashlib
import json
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from upstream.simulator import switches

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS switches (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, token_group TEXT NOT NULL DEFAULT '',
    access_key_id TEXT NOT NULL DEFAULT '', secret_access_key TEXT NOT NULL DEFAULT '',
    denied INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (
    byted_token TEXT PRIMARY KEY, owner TEXT NOT NULL, opaque TEXT NOT NULL UNIQUE,
    callback_url TEXT NOT NULL, created_at REAL NOT NULL, link_expires_at REAL NOT NULL,
    opened_at REAL, status TEXT NOT NULL, result_code INTEGER, person TEXT NOT NULL DEFAULT '',
    group_id TEXT NOT NULL DEFAULT '', finished_at REAL, consumed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, group_type TEXT NOT NULL,
    project_name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    person TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS assets (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, group_id TEXT NOT NULL, name TEXT NOT NULL,
    asset_type TEXT NOT NULL, project_name TEXT NOT NULL, created_at REAL NOT NULL,
    ready_at REAL NOT NULL, outcome TEXT NOT NULL, error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '', phantom INTEGER NOT NULL DEFAULT 0,
    vanishes INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0,
    via TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL DEFAULT 'application/octet-stream');
CREATE TABLE IF NOT EXISTS blobs (asset_id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY, adapter TEXT NOT NULL, action TEXT NOT NULL, kind TEXT NOT NULL,
    remaining INTEGER NOT NULL, status INTEGER NOT NULL, retry_after REAL, seconds REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rate_limits (credential TEXT PRIMARY KEY, per_second REAL NOT NULL);
CREATE TABLE IF NOT EXISTS arms (
    group_id TEXT NOT NULL, kind TEXT NOT NULL, remaining INTEGER NOT NULL,
    always INTEGER NOT NULL, PRIMARY KEY (group_id, kind));
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, adapter TEXT NOT NULL, action TEXT NOT NULL,
    credential TEXT NOT NULL, status INTEGER NOT NULL, fault TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '', duration_ms INTEGER NOT NULL DEFAULT 0);
"""

# Everything but credentials; `reset(all_=True)` clears those too.
RESET = (
    "DELETE FROM meta",
    "DELETE FROM switches",
    "DELETE FROM sessions",
    "DELETE FROM groups",
    "DELETE FROM assets",
    "DELETE FROM blobs",
    "DELETE FROM faults",
    "DELETE FROM rate_limits",
    "DELETE FROM arms",
    "DELETE FROM requests",
)
SELECT_REQUESTS = """
SELECT * FROM requests
WHERE (:adapter IS NULL OR adapter = :adapter) AND (:action IS NULL OR action = :action)
    AND (:credential IS NULL OR credential = :credential) AND (:fault IS NULL OR fault = :fault)
ORDER BY id
"""


@dataclass(frozen=True)
class Credential:
    """A registered caller. ``id`` is a hash: safe to log, show and use as owner key."""

    id: str
    kind: str  # "token" (Anyfast) or "keypair" (BytePlus)
    token_group: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    denied: bool = False


def token_id(token: str) -> str:
    return "tok_" + hashlib.sha256(token.encode()).hexdigest()[:12]


def keypair_id(access_key_id: str) -> str:
    return "ak_" + hashlib.sha256(access_key_id.encode()).hexdigest()[:12]


def stamp(ts: float) -> str:
    """``YYYYMMDDHHMMSS`` in UTC, the prefix of upstream ids and tokens."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d%H%M%S")


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str, ts: float) -> str:
    """``group-20260520163350-ctpqc`` / ``asset-20260320120147-pqwhc``."""
    suffix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(5))
    return f"{prefix}-{stamp(ts)}-{suffix}"


class Store:
    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._switches: dict[str, Any] = {}
        self._clock_offset = 0.0
        self._load()

    def _load(self) -> None:
        values = switches.defaults()
        for row in self._db.execute("SELECT name, value FROM switches"):
            if row["name"] in values:
                values[row["name"]] = json.loads(row["value"])
        self._switches = values
        offset = self._meta("clock_offset")
        self._clock_offset = float(offset) if offset else 0.0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; rolled back if the block raises. Nested calls join it."""
        with self._lock:
            if self._db.in_transaction:  # only this thread can hold the lock
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- clock, meta, switches -------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._clock_offset

    @property
    def clock_offset(self) -> float:
        return self._clock_offset

    def advance_clock(self, seconds: float) -> float:
        with self.tx() as db:
            self._clock_offset += seconds
            self._set_meta(db, "clock_offset", str(self._clock_offset))
        return self._clock_offset

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def secret(self) -> bytes:
        """Per-state-file key for signing download links; created on first use."""
        with self.tx() as db:
            value = self._meta("url_secret")
            if value is None:
                value = secrets.token_hex(32)
                self._set_meta(db, "url_secret", value)
        return bytes.fromhex(value)

    def switch(self, name: str) -> Any:
        return self._switches[name]

    def switches(self) -> dict[str, Any]:
        return dict(self._switches)

    def set_switches(self, values: dict[str, Any]) -> dict[str, Any]:
        """Validate all, then persist all; raises ``switches.SwitchError`` on any bad value."""
        clean = {name: switches.coerce(name, value) for name, value in values.items()}
        with self.tx() as db:
            for name, value in clean.items():
                db.execute(
                    "INSERT OR REPLACE INTO switches (name, value) VALUES (?, ?)",
                    (name, json.dumps(value)),
                )
            self._switches.update(clean)
        return self.switches()

    # -- credentials -----------------------------------------------------------------------

    def add_token(self, token: str, group: str) -> Credential:
        cred = Credential(id=token_id(token), kind="token", token_group=group)
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO credentials (id, kind, token_group) VALUES (?, 'token', ?)",
                (cred.id, group),
            )
        return cred

    def add_keypair(self, access_key_id: str, secret_access_key: str, denied: bool) -> Credential:
        cred = Credential(
            id=keypair_id(access_key_id),
            kind="keypair",
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            denied=denied,
        )
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO credentials (id, kind, access_key_id, secret_access_key,"
                " denied) VALUES (?, 'keypair', ?, ?, ?)",
                (cred.id, access_key_id, secret_access_key, int(denied)),
            )
        return cred

    def credential(self, credential_id: str) -> Credential | None:
        with self.tx() as db:
            row = db.execute("SELECT * FROM credentials WHERE id = ?", (credential_id,)).fetchone()
        if row is None:
            return None
        return Credential(
            id=row["id"],
            kind=row["kind"],
            token_group=row["token_group"],
            access_key_id=row["access_key_id"],
            secret_access_key=row["secret_access_key"],
            denied=bool(row["denied"]),
        )

    def resolve_credential(self, raw_or_id: str) -> Credential | None:
        """Find a credential by its id, its raw token or its access key id."""
        for candidate in (raw_or_id, token_id(raw_or_id), keypair_id(raw_or_id)):
            cred = self.credential(candidate)
            if cred is not None:
                return cred
        return None

    # -- request log -----------------------------------------------------------------------

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO requests (time, adapter, action, credential, status, fault, model,"
                " duration_ms) VALUES (:time, :adapter, :action, :credential, :status, :fault,"
                " :model, :duration_ms)",
                entry,
            )

    def requests(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        args = {name: filters.get(name) for name in ("adapter", "action", "credential", "fault")}
        with self.tx() as db:
            rows = db.execute(SELECT_REQUESTS, args).fetchall()
        return [dict(row) | {"time": iso(row["time"]), "unix_time": row["time"]} for row in rows]

    # -- reset -----------------------------------------------------------------------------

    def reset(self, *, all_: bool = False) -> None:
        with self.tx() as db:
            for statement in (*RESET, "DELETE FROM credentials") if all_ else RESET:
                db.execute(statement)
            self._switches = switches.defaults()
            self._clock_offset = 0.0

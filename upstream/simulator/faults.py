"""Injected faults and per-credential rate limits.

A fault matches an adapter request by adapter and action (``*`` for any) and is used up one
request at a time, oldest first. Kinds:

- ``error``: answer ``status`` (default 503) in the adapter's error shape, nothing performed.
- ``rate_limit``: answer 429 with ``Retry-After`` (default 1 s), nothing performed.
- ``hang``: read the request, wait ``seconds`` (default 30), close without answering.
- ``slow_body``: perform the action, then trickle the reply over ``seconds`` (default 5).
- ``commit_then_drop``: perform the action and commit, then close without answering: the
  "timeout after the upstream committed" case that must not produce a second asset.
"""

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from upstream.simulator.store import Store

KINDS = ("error", "rate_limit", "hang", "slow_body", "commit_then_drop")
BEFORE_ACTION = frozenset({"error", "rate_limit", "hang"})
ADAPTERS = ("*", "anyfast", "byteplus")
DEFAULT_SECONDS = {"hang": 30.0, "slow_body": 5.0}


@dataclass(frozen=True)
class Fault:
    id: int
    adapter: str
    action: str
    kind: str
    remaining: int
    status: int
    retry_after: float | None
    seconds: float


def add(store: Store, spec: dict[str, Any]) -> Fault:
    """Register a fault from its JSON spec; raises ``ValueError`` describing a bad spec."""
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}")
    adapter = spec.get("adapter", "*")
    if adapter not in ADAPTERS:
        raise ValueError(f"adapter must be one of {list(ADAPTERS)}")
    action = spec.get("action", "*")
    count = spec.get("count", 1)
    status = spec.get("status", 429 if kind == "rate_limit" else 503)
    retry_after = spec.get("retry_after", 1 if kind == "rate_limit" else None)
    seconds = spec.get("seconds", DEFAULT_SECONDS.get(kind, 0.0))
    if not isinstance(action, str) or not action:
        raise ValueError("action must be an action name or '*'")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    for name, value in (("retry_after", retry_after), ("seconds", seconds)):
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise ValueError(f"{name} must be a non-negative number")
    with store.tx() as db:
        cursor = db.execute(
            "INSERT INTO faults (adapter, action, kind, remaining, status, retry_after, seconds)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (adapter, action, kind, count, status, retry_after, float(seconds)),
        )
        fault_id = cursor.lastrowid
    assert fault_id is not None
    return Fault(fault_id, adapter, action, kind, count, status, retry_after, float(seconds))


def take(store: Store, adapter: str, action: str) -> Fault | None:
    """Use up one matching fault, if any."""
    with store.tx() as db:
        row = db.execute(
            "SELECT * FROM faults WHERE remaining > 0 AND adapter IN ('*', ?)"
            " AND action IN ('*', ?) ORDER BY id LIMIT 1",
            (adapter, action),
        ).fetchone()
        if row is None:
            return None
        db.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (row["id"],))
        db.execute("DELETE FROM faults WHERE remaining <= 0")
    return Fault(**dict(row))


def pending(store: Store) -> list[dict[str, Any]]:
    with store.tx() as db:
        return [dict(row) for row in db.execute("SELECT * FROM faults ORDER BY id")]


def clear(store: Store) -> None:
    with store.tx() as db:
        db.execute("DELETE FROM faults")


def set_rate_limit(store: Store, credential_id: str, per_second: float | None) -> None:
    """Limit a credential to ``per_second`` requests; ``None`` or 0 removes the limit."""
    with store.tx() as db:
        if per_second:
            db.execute(
                "INSERT OR REPLACE INTO rate_limits (credential, per_second) VALUES (?, ?)",
                (credential_id, per_second),
            )
        else:
            db.execute("DELETE FROM rate_limits WHERE credential = ?", (credential_id,))


class RateLimiter:
    """Sliding one-second window per credential; the limits themselves live in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, credential_id: str) -> bool:
        with self._store.tx() as db:
            row = db.execute(
                "SELECT per_second FROM rate_limits WHERE credential = ?", (credential_id,)
            ).fetchone()
        if row is None:
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits[credential_id]
            while hits and hits[0] <= now - 1.0:
                hits.popleft()
            if len(hits) >= row["per_second"]:
                return False
            hits.append(now)
            return True

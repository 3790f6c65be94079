"""Building a client from a stored ``UpstreamAccount`` and the settings.

Settings read (all optional; defaults in brackets):
``UPSTREAM_CONNECT_TIMEOUT`` [5 s], ``UPSTREAM_READ_TIMEOUT`` [60 s] — per socket operation;
``UPSTREAM_TOTAL_TIMEOUT`` [connect + 2 × read] — one whole answer, however slowly it trickles;
``UPSTREAM_READ_ATTEMPTS`` [4], ``UPSTREAM_RETRY_BUDGET`` [30 s], ``UPSTREAM_RETRY_BASE_DELAY``
[0.5 s], ``UPSTREAM_RETRY_MAX_DELAY`` [8 s] — reads and deletes;
``UPSTREAM_CREATE_SENDS`` [2] — CreateAsset sends per create_asset() call;
``UPSTREAM_INLINE_MAX_BYTES`` [64,000,000] — the largest inline (Base64) request body;
``UPSTREAM_QPS_LIMIT`` [30], ``UPSTREAM_GET_QPS_LIMIT`` [100] — calls per second per account,
shared by every worker through Redis (``upstream.pacing``; 0 turns a limit off);
``UPSTREAM_QPS_MAX_WAIT`` [10 s] — the longest a call waits for its turn (2 s while a person
waits on a page).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from upstream.anyfast import AnyfastClient
from upstream.byteplus import BytePlusClient
from upstream.client import DEFAULT_INLINE_MAX_BYTES, UpstreamClient
from upstream.errors import AccountMisconfigured
from upstream.models import Adapter, UpstreamAccount
from upstream.pacing import Limits, Pacing, buckets_for
from upstream.recording import DatabaseRecorder
from upstream.retry import RetryPolicy
from upstream.transport import Transport

# For a person waiting on a page: fail fast and let the page offer "try again".
INTERACTIVE_POLICY = RetryPolicy(
    attempts=2, base_delay=0.3, max_delay=1.0, budget=5.0, create_sends=1
)
INTERACTIVE_READ_TIMEOUT = 15.0
INTERACTIVE_QPS_WAIT = 2.0


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def retry_policy() -> RetryPolicy:
    return RetryPolicy(
        attempts=int(_setting("UPSTREAM_READ_ATTEMPTS", 4)),
        base_delay=_setting("UPSTREAM_RETRY_BASE_DELAY", 0.5),
        max_delay=_setting("UPSTREAM_RETRY_MAX_DELAY", 8.0),
        budget=_setting("UPSTREAM_RETRY_BUDGET", 30.0),
        create_sends=int(_setting("UPSTREAM_CREATE_SENDS", 2)),
    )


def pacing_for(account: UpstreamAccount, *, interactive: bool = False) -> Pacing:
    longest = _setting("UPSTREAM_QPS_MAX_WAIT", 10.0)
    return Pacing(
        account_key=str(account.pk),
        limits=Limits(
            per_second=_setting("UPSTREAM_QPS_LIMIT", 30.0),
            get_per_second=_setting("UPSTREAM_GET_QPS_LIMIT", 100.0),
        ),
        buckets=buckets_for(getattr(settings, "REDIS_URL", "") or ""),
        longest_wait=min(longest, INTERACTIVE_QPS_WAIT) if interactive else longest,
    )


def client_for(account: UpstreamAccount, *, interactive: bool = False) -> UpstreamClient:
    """The client for ``account``; every call it makes is recorded against the account.

    ``interactive`` shortens timeouts and retries for calls made while a person waits on a page.
    Raises ``AccountMisconfigured`` when the account lacks what its adapter needs.
    """
    connect = _setting("UPSTREAM_CONNECT_TIMEOUT", 5.0)
    read = _setting("UPSTREAM_READ_TIMEOUT", 60.0)
    if interactive:
        read = min(read, INTERACTIVE_READ_TIMEOUT)
    total = _setting("UPSTREAM_TOTAL_TIMEOUT", connect + 2 * read)
    common: dict[str, Any] = {
        "base_url": account.base_url,
        "transport": Transport(connect_timeout=connect, read_timeout=read, total_timeout=total),
        "policy": INTERACTIVE_POLICY if interactive else retry_policy(),
        "recorder": DatabaseRecorder(account.pk),
        "label": account.name,
        "inline_max_bytes": int(_setting("UPSTREAM_INLINE_MAX_BYTES", DEFAULT_INLINE_MAX_BYTES)),
        "pacing": pacing_for(account, interactive=interactive),
    }
    if account.adapter == Adapter.ANYFAST:
        return AnyfastClient(api_token=account.api_token or "", **common)
    if account.adapter == Adapter.BYTEPLUS:
        return BytePlusClient(
            access_key_id=account.access_key_id,
            secret_access_key=account.secret_access_key or "",
            region=account.region,
            project_name=account.project_name,
            **common,
        )
    raise AccountMisconfigured(f"unknown adapter {account.adapter!r}")

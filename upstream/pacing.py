"""Keeping each upstream account under its published QPS limits, across every worker.

CONTRACT.md §4 publishes per-account limits: 30 QPS for create, list and update calls, 100 QPS
for ``GetAsset``/``GetAssetGroup``. Every call first takes a token from its account's bucket for
that class of call (``UPSTREAM_QPS_LIMIT``, ``UPSTREAM_GET_QPS_LIMIT``; calls the contract
doesn't name, such as the verification actions, count as the first class). A bucket for a limit
of L holds c = L // 6 tokens (at least 1) and refills at L - c per second: short bursts go at once,
and no second ever sees more than L calls (c from the bucket, at most L - c refilled).

Where the buckets live:

- with ``REDIS_URL``: in Redis, shared by every process and machine (a Lua script takes a token
  atomically, timed by Redis's own clock so the workers' clocks don't matter);
- without (the embedded default): in the process. The embedded default runs one worker process,
  so a process-local bucket is the account's bucket there.

A token is reserved before waiting for it, so callers queue in order. A wait longer than
``UPSTREAM_QPS_MAX_WAIT`` is not taken: the call fails as ``RateLimited`` (nothing was sent), and
the caller's usual retry applies. While Redis can't be reached, calls are not paced at all and a
warning is logged, as the portal's own rate limits fail open (``portal.throttle``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
from redis.exceptions import RedisError

from upstream import errors

logger = logging.getLogger("upstream")

GET_ACTIONS = frozenset({"GetAsset", "GetAssetGroup"})
KEY_PREFIX = "sitter:upstream-qps"
WARN_EVERY = 60.0  # seconds between "not paced" warnings per process

# KEYS[1]: the bucket; ARGV: rate (tokens/s), capacity, longest wait accepted (s).
# Returns the wait in seconds as text (Lua numbers would be truncated to integers), or "-1"
# when the wait would be longer than accepted, in which case nothing is taken.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local longest = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1])
local at = tonumber(held[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
if wait > longest then return '-1' end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 60)
return tostring(wait)
"""


def bucket_shape(limit: float) -> tuple[float, float]:
    """(capacity, refill per second) that never let more than ``limit`` calls into a second.
    Below 2 calls a second a one-token bucket refills at half the limit, so a second may see
    one call more."""
    capacity = max(1.0, float(limit // 6))
    return capacity, max(limit - capacity, limit / 2)


class Buckets(Protocol):
    def take(self, key: str, *, rate: float, capacity: float, longest: float) -> float | None:
        """Reserve one token; the seconds to wait before using it, or None (nothing reserved)
        when that would be longer than ``longest``."""


class LocalBuckets:
    """Buckets in this process, shared by its threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, *, rate: float, capacity: float, longest: float) -> float | None:
        with self._lock:
            now = self._clock()
            tokens, at = self._held.get(key, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - at) * rate)
            wait = (1 - tokens) / rate if tokens < 1 else 0.0
            if wait > longest:
                return None
            self._held[key] = (tokens - 1, now)
            return wait


class RedisBuckets:
    """Buckets in Redis, shared by every process; fail open while Redis is unreachable."""

    def __init__(self, url: str) -> None:
        # Short timeouts: a hung Redis must cost a call about a second, not stall it.
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._script = self._redis.register_script(_TAKE)
        self._warned_at = -WARN_EVERY

    def take(self, key: str, *, rate: float, capacity: float, longest: float) -> float | None:
        try:
            answer = self._script(keys=[key], args=[rate, capacity, longest])
        except RedisError as error:
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY:
                self._warned_at = now
                logger.warning("upstream QPS limits not applied, Redis is unreachable: %s", error)
            return 0.0
        wait = float(answer.decode() if isinstance(answer, bytes) else answer)
        return None if wait < 0 else wait


@dataclass(frozen=True)
class Limits:
    per_second: float  # create, list, update and every call not named below; 0: unlimited
    get_per_second: float  # GetAsset, GetAssetGroup; 0: unlimited

    def for_action(self, action: str) -> tuple[str, float]:
        if action in GET_ACTIONS:
            return "get", self.get_per_second
        return "other", self.per_second


class Pacing:
    """One upstream account's pacing, as its client uses it before every send."""

    def __init__(
        self,
        *,
        account_key: str,
        limits: Limits,
        buckets: Buckets,
        longest_wait: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account_key = account_key
        self.limits = limits
        self.buckets = buckets
        self.longest_wait = longest_wait
        self._sleep = sleep

    def wait_turn(self, action: str) -> None:
        """Return when ``action`` may be sent; raise ``RateLimited`` (nothing sent) if the turn
        is further off than the longest wait."""
        kind, limit = self.limits.for_action(action)
        if limit <= 0:
            return
        capacity, rate = bucket_shape(limit)
        key = f"{KEY_PREFIX}:{self.account_key}:{kind}"
        wait = self.buckets.take(key, rate=rate, capacity=capacity, longest=self.longest_wait)
        if wait is None:
            raise errors.RateLimited(
                f"this account's {limit:g} calls per second are taken for the next "
                f"{self.longest_wait:g} s by other workers",
                code="Local.QpsLimit",
                action=action,
                retry_after=self.longest_wait,
                maybe_processed=False,
            )
        if wait > 0:
            self._sleep(wait)


_local = LocalBuckets()
_shared: dict[str, RedisBuckets] = {}
_shared_lock = threading.Lock()


def buckets_for(redis_url: str) -> Buckets:
    """The Redis buckets for ``redis_url`` (one connection pool per process), or this process's
    own buckets when there is no Redis."""
    if not redis_url:
        return _local
    with _shared_lock:
        if redis_url not in _shared:
            _shared[redis_url] = RedisBuckets(redis_url)
        return _shared[redis_url]

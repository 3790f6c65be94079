"""Rate-limit counters in the cache that fail open when the cache is unreachable.

A rate limit slows abuse down; it must not take the pages it guards down with it. While Redis is
unreachable a counter reads as zero and hits go uncounted, with a warning logged each time, so
people keep using the portal and operators see the outage. Limits that matter beyond slowing
down are kept in the database instead (links per session per hour, sign-in lockouts).
"""

import logging

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def hits(key: str) -> int:
    """How often `key` was counted in its current window; 0 while the cache is unreachable."""
    try:
        return int(cache.get(key, 0))
    except RedisError as error:
        _not_applied(key, error)
        return 0


def count(key: str, *, window: int) -> None:
    """Count one hit of `key`; its window of `window` seconds starts with the first."""
    try:
        if not cache.add(key, 1, window):
            try:
                cache.incr(key)
            except ValueError:  # the window ended between add and incr
                cache.set(key, 1, window)
    except RedisError as error:
        _not_applied(key, error)


def first_in_window(key: str, *, window: int) -> bool:
    """True for the first call with `key` in `window` seconds, and while the cache is unreachable."""
    try:
        return bool(cache.add(key, 1, window))
    except RedisError as error:
        _not_applied(key, error)
        return True


def _not_applied(key: str, error: RedisError) -> None:
    # The key's prefix names the limit; the rest may be a client address.
    limit = key.split(":", 1)[0]
    logger.warning("rate limit %s not applied, the cache is unreachable: %s", limit, error)

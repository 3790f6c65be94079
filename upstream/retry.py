"""When and how long to wait before trying an upstream call again.

- Reads (Get*, List*) and deletes are retried on ``UpstreamUnavailable`` with exponential backoff
  and full jitter, never sooner than a ``Retry-After``, bounded by attempts and a time budget.
  A wait that would overrun the budget (say, ``Retry-After: 120``) is not taken: the error goes
  back to the caller, ``retry_after`` included, so a task can schedule itself.
- ``CreateAsset`` is never resent blindly (see ``UpstreamClient.create_asset``).
- ``CreateVisualValidateSession`` is sent once; a caller that wants another starts a new session.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from upstream.errors import UpstreamUnavailable

logger = logging.getLogger("upstream")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries per read, the first included
    base_delay: float = 0.5
    max_delay: float = 8.0
    budget: float = 30.0  # seconds a read may spend in all, waits included
    create_sends: int = 2  # CreateAsset sends per create_asset() call

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Full jitter over an exponential ceiling; never shorter than ``retry_after``."""
        ceiling = min(self.max_delay, self.base_delay * 2**retry)
        return max(random.uniform(0, ceiling), retry_after or 0.0)  # noqa: S311 - jitter, not crypto


def retrying[T](
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    describe: str,
) -> T:
    """``call()`` until it returns, raises something other than ``UpstreamUnavailable``, or the
    policy's attempts or budget run out (then the last error is raised)."""
    deadline = time.monotonic() + policy.budget
    retry = 0
    while True:
        try:
            return call()
        except UpstreamUnavailable as exc:
            retry += 1
            if retry >= policy.attempts:
                raise
            delay = policy.delay(retry - 1, exc.retry_after)
            if time.monotonic() + delay > deadline:
                raise
            logger.debug("upstream %s retry %d in %.2fs after %s", describe, retry, delay, exc.code)
            sleep(delay)

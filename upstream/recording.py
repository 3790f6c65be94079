"""Every upstream attempt leaves one ``UpstreamCall`` row and one log line, never a credential."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger("upstream")


@dataclass(frozen=True)
class CallRecord:
    action: str
    http_status: int | None
    duration_ms: int
    error_code: str = ""
    error_message: str = ""
    request_id: str = ""


class Recorder(Protocol):
    def record(self, call: CallRecord) -> None: ...


class NullRecorder:
    """For clients built outside an account (scripts, benchmarks): log only."""

    def record(self, call: CallRecord) -> None:
        return None


class DatabaseRecorder:
    """Writes rows for one account. A failed write is logged, never raised: losing a debugging
    row must not turn a successful upstream call (maybe a paid one) into a failure.

    The row joins the caller's transaction if there is one, so a caller that rolls back loses it.
    """

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id

    def record(self, call: CallRecord) -> None:
        # Imported here so the client modules load without Django's app registry.
        from upstream.models import UpstreamCall

        try:
            UpstreamCall.objects.create(
                account_id=self.account_id,
                action=call.action[:64],
                http_status=call.http_status,
                duration_ms=max(0, call.duration_ms),
                error_code=call.error_code[:128],
                error_message=call.error_message,
                request_id=call.request_id[:128],
            )
        except Exception:  # any failure: a broken transaction, no database in this context, …
            logger.exception("could not record upstream call %s", call.action)


def log_call(account: str, call: CallRecord) -> None:
    """One line per attempt: action, status, duration, and the error code if any."""
    status = call.http_status if call.http_status is not None else "-"
    if call.error_code:
        logger.warning(
            "upstream %s %s status=%s %dms error=%s request_id=%s",
            account,
            call.action,
            status,
            call.duration_ms,
            call.error_code,
            call.request_id or "-",
        )
    else:
        logger.info(
            "upstream %s %s status=%s %dms request_id=%s",
            account,
            call.action,
            status,
            call.duration_ms,
            call.request_id or "-",
        )

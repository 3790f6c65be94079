"""Upstream work that spans the client and the stored account."""

from __future__ import annotations

from dataclasses import dataclass

from upstream.errors import UpstreamError
from upstream.factory import client_for
from upstream.models import UpstreamAccount


@dataclass(frozen=True)
class CheckOutcome:
    ok: bool
    summary: str
    explanation: str = ""
    fix: str = ""
    code: str = ""


def check_account(account: UpstreamAccount) -> CheckOutcome:
    """One free read call (ListAssets, page size 1) with the account's credentials.

    Never raises for upstream trouble: the outcome says what went wrong and what to do.
    """
    try:
        client_for(account, interactive=True).check_credentials()
    except UpstreamError as exc:
        return CheckOutcome(
            ok=False,
            summary=f"{account.name}: {exc}",
            explanation=exc.explanation,
            fix=exc.fix,
            code=exc.code,
        )
    return CheckOutcome(ok=True, summary=f"{account.name}: the upstream accepted the credentials.")

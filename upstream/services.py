"""Upstream work that spans the client and the stored account."""

from __future__ import annotations

from dataclasses import dataclass

from upstream.errors import UpstreamError
from upstream.factory import client_for
from upstream.models import UpstreamAccount


@dataclass(frozen=True)
class CheckOutcome:
    """``ok``: the credentials work. ``confirmed``: they may also start verification sessions
    (for Anyfast: the token is in the Byteplus-Direct group); an ok outcome that isn't confirmed
    says so in ``summary``, and the first real session will tell."""

    ok: bool
    summary: str
    explanation: str = ""
    fix: str = ""
    code: str = ""
    confirmed: bool = False


def check_account(account: UpstreamAccount) -> CheckOutcome:
    """Free read calls with the account's credentials (see ``UpstreamClient.check_credentials``).

    Never raises for upstream trouble: the outcome says what went wrong and what to do.
    """
    try:
        check = client_for(account, interactive=True).check_credentials()
    except UpstreamError as exc:
        return CheckOutcome(
            ok=False,
            summary=f"{account.name}: {exc}",
            explanation=exc.explanation,
            fix=exc.fix,
            code=exc.code,
        )
    if check.sessions_confirmed:
        return CheckOutcome(ok=True, confirmed=True, summary=f"{account.name}: {check.note}.")
    return CheckOutcome(
        ok=True,
        summary=f"{account.name}: {check.note}.",
        explanation="The check could not confirm that this credential may verify people.",
        fix=(
            "Staff: for Anyfast, make sure the token was created in the Byteplus-Direct group; "
            "start one verification yourself to be sure."
        ),
    )

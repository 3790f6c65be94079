"""How often a session's link may go out by email or SMS, and how often a link may start a
liveness check.

A person who doesn't answer is not helped by ten messages in ten minutes, and a mistyped address
or a stuck button should not turn the portal into a spam source. At most
`INVITATIONS_PER_SESSION_PER_HOUR` links per session in any hour (the first one included);
links shown in person (QR code) don't count.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from verification.models import LivenessAttempt, VerificationSession
from verification.services import JourneyError

WINDOW = timedelta(hours=1)


class TooManyLinks(JourneyError):
    """The session has had its share of links this hour; the message says when the next may go."""


def next_send_at(session: VerificationSession, now: datetime | None = None) -> datetime | None:
    """None when a link may be sent now, otherwise the moment the next one may."""
    now = now or timezone.now()
    limit = max(1, settings.INVITATIONS_PER_SESSION_PER_HOUR)
    recent = list(
        session.invitations.filter(created_at__gt=now - WINDOW)
        .exclude(channel=VerificationSession.Channel.IN_PERSON)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return None
    return recent[-1] + WINDOW


def check_can_send(session: VerificationSession, now: datetime | None = None) -> None:
    """Raise `TooManyLinks`, in words staff can act on, when the session's hourly share is used."""
    when = next_send_at(session, now)
    if when is None:
        return
    limit = max(1, settings.INVITATIONS_PER_SESSION_PER_HOUR)
    local = timezone.localtime(when)
    links = "link was" if limit == 1 else f"{limit} links were"
    raise TooManyLinks(
        f"{links.capitalize()} already sent to {session.person.full_name} in the last hour, the "
        f"most allowed. The next can be sent at {local:%H:%M} ({local.tzname()}). Meanwhile, "
        "check that their address is right, or show them the link in person as a QR code."
    )


# --- Liveness starts --------------------------------------------------------------------------------
# Each start is a billed upstream call. A link may start a new check only when its last one is
# finished or its upstream page has expired, and at most `LIVENESS_STARTS_PER_HOUR` times an hour;
# one start at a time per session (a claim on the session row, so a button pressed sixty times at
# once makes one call, whichever process serves each press).
START_CLAIM = timedelta(seconds=30)


class TooManyStarts(JourneyError):
    """The person may not start a check just now; the message says when they may."""

    status = 429


def check_can_start(session: VerificationSession, now: datetime | None = None) -> None:
    """Raise `TooManyStarts`, in the person's words, when a new check may not start now."""
    now = now or timezone.now()
    open_attempt = (
        session.attempts.filter(status=LivenessAttempt.Status.PENDING, h5_expires_at__gt=now)
        .order_by("-h5_expires_at")
        .first()
    )
    if open_attempt is not None:
        seconds = max(1, math.ceil((open_attempt.h5_expires_at - now).total_seconds()))
        raise TooManyStarts(
            ngettext(
                "The check you started is still open: finish it on the page it opened, or start "
                "again in %(seconds)d second.",
                "The check you started is still open: finish it on the page it opened, or start "
                "again in %(seconds)d seconds.",
                seconds,
            )
            % {"seconds": seconds}
        )
    limit = max(1, settings.LIVENESS_STARTS_PER_HOUR)
    recent = list(
        session.attempts.filter(created_at__gt=now - WINDOW)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) >= limit:
        minutes = max(1, math.ceil((recent[-1] + WINDOW - now).total_seconds() / 60))
        raise TooManyStarts(
            ngettext(
                "The check was started %(count)d times in the last hour, the most allowed. You "
                "can start it again in %(minutes)d minute.",
                "The check was started %(count)d times in the last hour, the most allowed. You "
                "can start it again in %(minutes)d minutes.",
                minutes,
            )
            % {"count": limit, "minutes": minutes}
        )


@contextmanager
def liveness_start(session: VerificationSession) -> Iterator[None]:
    """Hold the session's start claim while a check is started; `TooManyStarts` when another
    start holds it or `check_can_start` refuses."""
    now = timezone.now()
    claimed = (
        VerificationSession.objects.filter(pk=session.pk)
        .filter(Q(start_claimed_until__isnull=True) | Q(start_claimed_until__lt=now))
        .update(start_claimed_until=now + START_CLAIM)
    )
    if not claimed:
        raise TooManyStarts(
            gettext("Your check is being opened. Wait a moment, then reload this page.")
        )
    try:
        check_can_start(session, now)
        yield
    finally:
        VerificationSession.objects.filter(pk=session.pk).update(start_claimed_until=None)

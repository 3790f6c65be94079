"""How often a session's link may go out by email or SMS.

A person who doesn't answer is not helped by ten messages in ten minutes, and a mistyped address
or a stuck button should not turn the portal into a spam source. At most
`INVITATIONS_PER_SESSION_PER_HOUR` links per session in any hour (the first one included);
links shown in person (QR code) don't count.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from verification.models import VerificationSession
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

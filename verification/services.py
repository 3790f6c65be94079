"""The verification journey: persons, sessions, links and consent (liveness is in `liveness`).

Every state change is a compare-and-swap (`move`) followed by its side effects, and is recorded in
the ledger in the same transaction. Upstream calls happen outside database transactions.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from assets.models import AssetGroup
from ledger.services import Actor, record
from portal.queueing import enqueue_on_commit
from verification.models import (
    AuthorizingPerson,
    Consent,
    ConsentText,
    Invitation,
    LivenessAttempt,
    Project,
    VerificationSession,
)

if TYPE_CHECKING:
    from verification.forms import PersonForm

logger = logging.getLogger(__name__)

Status = VerificationSession.Status
# No new links for these; a verified person still gets links, to come back to their page.
CLOSED = (Status.CANCELLED, Status.EXPIRED)


class JourneyError(Exception):
    """A step the person or staff asked for cannot happen now; the message says why in words."""


class OpenSessionExists(JourneyError):
    """The person already has an open verification for this project: staff follow that one."""

    def __init__(self, session: VerificationSession) -> None:
        super().__init__(
            f"{session.person.full_name} already has an open verification for this project."
        )
        self.session = session


def open_session_for(*, person_id: int, project_id: int) -> VerificationSession | None:
    """The person's open verification for the project, if any: there is at most one."""
    return (
        VerificationSession.objects.open()
        .select_related("person")
        .filter(person_id=person_id, project_id=project_id)
        .order_by("-created_at")
        .first()
    )


# --- Persons ----------------------------------------------------------------------------------


def create_person(*, form: "PersonForm", user: User) -> AuthorizingPerson:
    with transaction.atomic():
        person = form.save(commit=False)
        person.created_by = user
        person.save()
        record(
            action="person.created",
            actor=Actor.staff(user),
            subject=person,
            person_id=person.pk,
            payload={"fields": sorted(form.changed_data)},
        )
    return person


def update_person(*, form: "PersonForm", user: User) -> AuthorizingPerson:
    with transaction.atomic():
        person = form.save()
        record(
            action="person.updated",
            actor=Actor.staff(user),
            subject=person,
            person_id=person.pk,
            payload={"fields": sorted(form.changed_data)},
        )
    return person


# --- Sessions and links -----------------------------------------------------------------------


def start_session(
    *,
    person: AuthorizingPerson,
    account_id: int,
    project: Project,
    consent_text: ConsentText,
    media_kinds: list[str],
    channel: str,
    user: User,
    term_ends_on: date | None = None,
) -> VerificationSession:
    """Create a session and, for email and SMS, queue its first invitation. Refused with
    `OpenSessionExists` while the person has an open one for the project.

    When the person already has a verified group at this account, the session asks only for
    consent (a new project, say): the group is reused and no new liveness check is needed.
    """
    reused = reusable_group(person_id=person.pk, account_id=account_id)
    with transaction.atomic():
        # The person's row serialises starts for them (on SQLite the write lock does).
        AuthorizingPerson.objects.select_for_update().filter(pk=person.pk).first()
        if open_one := open_session_for(person_id=person.pk, project_id=project.pk):
            raise OpenSessionExists(open_one)
        session = VerificationSession.objects.create(
            person=person,
            account_id=account_id,
            project=project,
            consent_text=consent_text,
            media_kinds=media_kinds,
            term_ends_on=term_ends_on,
            channel=channel,
            created_by=user,
            upstream_group_id=reused.upstream_id if reused else "",
        )
        record(
            action="session.created",
            actor=Actor.staff(user),
            subject=session,
            person_id=person.pk,
            payload={
                "project": project.name,
                "consent_text": consent_text.sha256,
                "media_kinds": media_kinds,
                "channel": channel,
                "account_id": account_id,
                "term_ends_on": term_ends_on.isoformat() if term_ends_on else None,
                "reuses_group": reused.upstream_id if reused else None,
            },
        )
        if channel != VerificationSession.Channel.IN_PERSON:
            send_new_link(session=session, user=user)
    return session


def _revoke_links(session: VerificationSession, now: datetime) -> int:
    return session.invitations.filter(revoked_at__isnull=True).update(revoked_at=now)


def send_new_link(*, session: VerificationSession, user: User | None) -> Invitation:
    """Revoke the session's links and queue a new one by email or SMS. A worker mints the token,
    so it never rests in the database or in a task message."""
    from verification.tasks import deliver_invitation

    if session.status in CLOSED:
        raise JourneyError(f"This session is {session.get_status_display().lower()}.")
    from verification.limits import check_can_send

    check_can_send(session)  # a few links an hour at most: no spamming a person
    channel = session.channel
    person = session.person
    recipient = person.email if channel == VerificationSession.Channel.EMAIL else person.phone
    if not recipient:
        raise JourneyError(
            f"{person.full_name} has no {'email address' if channel == 'email' else 'phone number'}."
        )
    now = timezone.now()
    with transaction.atomic():
        revoked = _revoke_links(session, now)
        invitation = Invitation.objects.create(
            session=session,
            channel=channel,
            recipient=recipient,
            created_by=user,
            expires_at=now + settings.INVITATION_TTL,
        )
        record(
            action="invitation.queued",
            actor=Actor.staff(user) if user else Actor.system(),
            subject=session,
            person_id=person.pk,
            payload={"invitation": invitation.pk, "channel": channel, "links_revoked": revoked},
        )
        enqueue_on_commit(
            deliver_invitation, invitation.pk, sweep="verification.tasks.sweep_invitations"
        )
    return invitation


def show_link(*, session: VerificationSession, user: User) -> str:
    """A new link for staff to show as a QR code or copy; the older links stop working."""
    if session.status in CLOSED:
        raise JourneyError(f"This session is {session.get_status_display().lower()}.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        revoked = _revoke_links(session, now)
        invitation = Invitation.objects.create(
            session=session,
            channel=VerificationSession.Channel.IN_PERSON,
            token_hash=Invitation.hash_token(token),
            status=Invitation.Status.SHOWN,
            created_by=user,
            sent_at=now,
            expires_at=now + settings.INVITATION_TTL,
        )
        session.move(Status.CREATED, Status.INVITED)
        record(
            action="invitation.shown",
            actor=Actor.staff(user),
            subject=session,
            person_id=session.person_id,
            payload={"invitation": invitation.pk, "links_revoked": revoked},
        )
    return person_link_url(token)


def person_link_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL + reverse("person:link", args=[token])


def deliver_invitation(*, invitation_id: int) -> None:
    """Mint the link and send it. Safe to run twice: only the run that claims it sends."""
    from verification import messaging

    token = secrets.token_urlsafe(32)
    claimed = Invitation.objects.filter(
        pk=invitation_id, status=Invitation.Status.PENDING, revoked_at__isnull=True
    ).update(status=Invitation.Status.SENDING, token_hash=Invitation.hash_token(token))
    if not claimed:
        return
    invitation = Invitation.objects.select_related("session__person", "session__project").get(
        pk=invitation_id
    )
    session = invitation.session
    try:
        messaging.send_invitation(invitation=invitation, link=person_link_url(token))
    except messaging.DeliveryError as error:
        with transaction.atomic():
            Invitation.objects.filter(pk=invitation.pk).update(
                status=Invitation.Status.FAILED, error=str(error)
            )
            record(
                action="invitation.failed",
                actor=Actor.system(),
                subject=session,
                person_id=session.person_id,
                payload={
                    "invitation": invitation.pk,
                    "channel": invitation.channel,
                    "error": str(error),
                },
            )
        return
    with transaction.atomic():
        Invitation.objects.filter(pk=invitation.pk).update(
            status=Invitation.Status.SENT, sent_at=timezone.now(), error=""
        )
        session.move(Status.CREATED, Status.INVITED)
        record(
            action="invitation.sent",
            actor=Actor.system(),
            subject=session,
            person_id=session.person_id,
            payload={"invitation": invitation.pk, "channel": invitation.channel},
        )


def invitations_to_deliver(*, now: datetime | None = None) -> list[int]:
    """Invitations still waiting to be sent a minute after they were queued: their task was lost.
    Delivery claims each one, so one whose task is merely late is still sent once."""
    now = now or timezone.now()
    return list(
        Invitation.objects.filter(
            status=Invitation.Status.PENDING,
            revoked_at__isnull=True,
            expires_at__gt=now,
            created_at__lt=now - timedelta(minutes=1),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:200]
    )


@dataclass(frozen=True)
class LinkLookup:
    invitation: Invitation | None
    # "" when usable; else why it stopped working, each told to the person in its own words:
    # "unknown", "cancelled" (staff closed the request), "ended" (the request ran out of time),
    # "replaced" (a newer link was made), "expired" (this link's own time ran out).
    problem: str


def look_up_link(token: str) -> LinkLookup:
    """Find the invitation behind a link token, or say why it does not work. The session's end
    comes first: cancelling also revokes the links, and "a newer link was sent" would be false."""
    if not token or len(token) > 100:
        return LinkLookup(None, "unknown")
    invitation = (
        Invitation.objects.select_related(
            "session__person", "session__project", "session__consent_text"
        )
        .filter(token_hash=Invitation.hash_token(token))
        .first()
    )
    if invitation is None:
        return LinkLookup(None, "unknown")
    if invitation.session.status == Status.CANCELLED:
        return LinkLookup(invitation, "cancelled")
    if invitation.session.status == Status.EXPIRED:
        return LinkLookup(invitation, "ended")
    if invitation.revoked_at is not None:
        return LinkLookup(invitation, "replaced")
    if invitation.expires_at <= timezone.now():
        return LinkLookup(invitation, "expired")
    return LinkLookup(invitation, "")


def note_link_opened(*, invitation: Invitation, request: HttpRequest) -> None:
    """The person opened their link. Only the first opening is evidence worth recording."""
    session = invitation.session
    if invitation.opened_at is not None:
        return
    first = Invitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(
        opened_at=timezone.now()
    )
    if not first:
        return
    with transaction.atomic():
        session.move((Status.CREATED, Status.INVITED), Status.OPENED, opened_at=timezone.now())
        AuthorizingPerson.objects.filter(pk=session.person_id).update(
            last_interaction_at=timezone.now()
        )
        record(
            action="invitation.opened",
            actor=Actor.person(session.person_id),
            subject=session,
            person_id=session.person_id,
            payload={"invitation": invitation.pk},
            request=request,
        )


# --- Consent ----------------------------------------------------------------------------------


def reusable_group(*, person_id: int, account_id: int) -> AssetGroup | None:
    """The person's live verified group at this account, if any (groups are per account)."""
    return (
        AssetGroup.objects.filter(
            person_id=person_id, account_id=account_id, deleted_at__isnull=True
        )
        .order_by("-created_at")
        .first()
    )


def give_consent(
    *,
    session: VerificationSession,
    signature_name: str,
    request: HttpRequest,
    representation: str = "",
    guardian_name: str = "",
    guardian_relationship: str = "",
) -> Consent:
    """Store the person's consent to the session's text, project and media kinds."""
    text = session.consent_text
    with transaction.atomic():
        if not session.move(VerificationSession.AWAITING_CONSENT, Status.CONSENTED):
            existing = session.consents.filter(withdrawn_at__isnull=True).first()
            if existing is not None:
                return existing
            raise JourneyError(gettext("This verification is no longer waiting for consent."))
        consent = Consent.objects.create(
            person=session.person,
            session=session,
            text=text,
            text_sha256=text.sha256,
            project=session.project,
            intended_use=session.project.intended_use,
            media_kinds=session.media_kinds,
            term_ends_on=session.term_ends_on,
            signature_name=signature_name,
            representation=representation,
            guardian_name=guardian_name,
            guardian_relationship=guardian_relationship,
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("user-agent", "")[:512],
        )
        VerificationSession.objects.filter(pk=session.pk).update(consented_at=consent.signed_at)
        AuthorizingPerson.objects.filter(pk=session.person_id).update(
            last_interaction_at=timezone.now()
        )
        record(
            action="consent.given",
            actor=Actor.person(session.person_id),
            subject=consent,
            person_id=session.person_id,
            payload={
                "session": session.pk,
                "text_version": text.version,
                "text_sha256": text.sha256,
                "project": session.project.name,
                "intended_use": session.project.intended_use,
                "media_kinds": session.media_kinds,
                "term_ends_on": session.term_ends_on.isoformat() if session.term_ends_on else None,
                "signature_name": signature_name,
                "representation": representation,
                "guardian_name": guardian_name,
                "guardian_relationship": guardian_relationship,
            },
            request=request,
        )
        if session.upstream_group_id:
            _reuse_group(session)
        from verification.tasks import send_receipt

        enqueue_on_commit(send_receipt, consent.pk, sweep="verification.tasks.sweep_receipts")
    return consent


def _reuse_group(session: VerificationSession) -> None:
    """Consent for a person already verified at this account: their group serves again."""
    from verification.notifications import notify_outcome

    if session.move(Status.CONSENTED, Status.VERIFIED, completed_at=timezone.now()):
        record(
            action="verification.group_reused",
            actor=Actor.system(),
            subject=session,
            person_id=session.person_id,
            payload={"group_id": session.upstream_group_id, "account_id": session.account_id},
        )
        transaction.on_commit(lambda: notify_outcome(session_id=session.pk))


# --- Staff actions and housekeeping -----------------------------------------------------------


def cancel_session(*, session: VerificationSession, user: User) -> None:
    now = timezone.now()
    with transaction.atomic():
        if not session.move(
            VerificationSession.OPEN,
            Status.CANCELLED,
            completed_at=now,
        ):
            raise JourneyError(f"This session is already {session.get_status_display().lower()}.")
        revoked = _revoke_links(session, now)
        session.attempts.filter(status=LivenessAttempt.Status.PENDING).update(
            status=LivenessAttempt.Status.SUPERSEDED, lease_until=None
        )
        record(
            action="session.cancelled",
            actor=Actor.staff(user),
            subject=session,
            person_id=session.person_id,
            payload={"links_revoked": revoked},
        )


def expire_sessions(*, now: datetime | None = None) -> int:
    """Close sessions whose every link has expired with no verification under way."""
    now = now or timezone.now()
    candidates = (
        VerificationSession.objects.open()
        .exclude(status=Status.VERIFYING)
        .exclude(invitations__expires_at__gt=now, invitations__revoked_at__isnull=True)
        .filter(created_at__lt=now - settings.INVITATION_TTL)
    )
    expired = 0
    for session in candidates:
        with transaction.atomic():
            if session.move(
                VerificationSession.OPEN,
                Status.EXPIRED,
                completed_at=now,
            ):
                expired += 1
                record(
                    action="session.expired",
                    actor=Actor.system(),
                    subject=session,
                    person_id=session.person_id,
                )
    return expired

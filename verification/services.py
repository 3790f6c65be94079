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
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext, ngettext

from assets.models import AssetGroup
from ledger.models import AuditEvent
from ledger.services import Actor, record
from portal.clients import client_ip
from portal.confirm import require_reason
from portal.queueing import enqueue_on_commit
from verification.models import (
    AuthorizingPerson,
    Consent,
    ConsentCode,
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
Proof = VerificationSession.Proof
CODE_SALT = "verification.consent_code"
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

    When the person already has a verified group at this account (a new project, say), the
    consent must still be bound to the person, not to whoever holds the link: either a one-time
    code sent to their own email or phone on file (then the group serves again, no new liveness
    check), or a fresh liveness check (a new group). `REUSED_GROUP_CONSENT_PROOF` says which.
    """
    reused = reusable_group(person_id=person.pk, account_id=account_id)
    proof = consent_proof_for(person, reused)
    group_id = reused.upstream_id if reused is not None and proof == Proof.CODE else ""
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
            upstream_group_id=group_id,
            consent_proof=proof,
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
                "reuses_group": group_id or None,
                "verified_before": reused.upstream_id if reused else None,
                "consent_proof": proof,
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


def show_link(*, session: VerificationSession, user: User, device: str = "") -> str:
    """A new link for staff to show as a QR code or copy; the older links stop working.

    `device`: the staff browser's user agent; a consent given through the link names who showed
    it and on what."""
    device = device.replace("\x00", "")[:512]
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
            shown_on=device,
        )
        session.move(Status.CREATED, Status.INVITED)
        record(
            action="invitation.shown",
            actor=Actor.staff(user),
            subject=session,
            person_id=session.person_id,
            payload={"invitation": invitation.pk, "links_revoked": revoked, "shown_on": device},
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
    invitation: Invitation | None = None,
) -> Consent:
    """Store the person's consent to the session's text, project and media kinds.

    `invitation`: the link it came through. One staff showed in person makes the consent say who
    showed it and on which browser. On a reused group the session then waits for the person's
    one-time code (`check_consent_code`); otherwise for their liveness check.
    """
    text = session.consent_text
    shown_by = invitation.created_by if invitation and invitation.channel == "in_person" else None
    shown_by_name = staff_name(shown_by) if shown_by else ""
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
            ip=client_ip(request) or None,
            user_agent=request.headers.get("user-agent", "")[:512],
            shown_by=shown_by,
            shown_by_name=shown_by_name,
            shown_on=invitation.shown_on if invitation and shown_by else "",
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
                "consent_proof": session.consent_proof,
                "in_person_shown_by": (
                    {"id": shown_by.pk, "name": shown_by_name} if shown_by else None
                ),
            },
            request=request,
        )
        from verification.tasks import send_receipt

        enqueue_on_commit(send_receipt, consent.pk, sweep="verification.tasks.sweep_receipts")
    return consent


def staff_name(user: User) -> str:
    """How a staff member is named to a person (receipt, their page): full name, else username."""
    return user.get_full_name() or user.get_username()


# --- Binding a consent on a reused group to the person ---------------------------------------


def consent_proof_for(person: AuthorizingPerson, reused: AssetGroup | None) -> str:
    """How this person will prove it is them: a one-time code when their group serves again and
    a contact of theirs is on file, unchanged since the group was verified (else whoever changed
    it would get the code); a liveness check otherwise."""
    if (
        reused is None
        or settings.REUSED_GROUP_CONSENT_PROOF != "code"
        or not (person.email or person.phone)
        or _contact_changed_since(person, reused.created_at)
    ):
        return Proof.LIVENESS
    return Proof.CODE


def _contact_changed_since(person: AuthorizingPerson, moment: datetime) -> bool:
    events = AuditEvent.objects.filter(
        person_id=person.pk, action="person.updated", occurred_at__gt=moment
    ).values_list("payload", flat=True)
    return any({"email", "phone"} & set((payload or {}).get("fields", [])) for payload in events)


def _code_hash(session: VerificationSession, code: str) -> str:
    # Keyed: six digits hash to a million values, which anyone reading the table could try.
    return salted_hmac(CODE_SALT, f"{session.pk}:{code}", algorithm="sha256").hexdigest()


def send_consent_code(*, session: VerificationSession, request: HttpRequest | None = None) -> str:
    """Send a new one-time code to the person's own email (else phone) on file; the earlier one
    stops working. Returns the channel. Raises `JourneyError` past the sending limit."""
    from verification import messaging

    if not session.awaits_code:
        raise JourneyError(gettext("There is no code to send for this consent."))
    person = session.person
    channel = "email" if person.email else "sms"
    code = f"{secrets.randbelow(1_000_000):06d}"
    now = timezone.now()
    with transaction.atomic():
        existing = ConsentCode.objects.select_for_update().filter(session=session).first()
        if existing is not None and existing.sends >= settings.CONSENT_CODE_SENDS:
            raise JourneyError(
                gettext(
                    "No more codes can be sent for this consent. Please ask the studio to start "
                    "again."
                )
            )
        sends = existing.sends + 1 if existing else 1
        ConsentCode.objects.update_or_create(
            session=session,
            defaults={
                "code_hash": _code_hash(session, code),
                "channel": channel,
                "sent_at": now,
                "expires_at": now + settings.CONSENT_CODE_TTL,
                "sends": sends,
                "failed_attempts": 0,
                "used_at": None,
            },
        )
        record(
            action="consent_code.sent",
            actor=Actor.system(),
            subject=session,
            person_id=person.pk,
            payload={"channel": channel, "sends": sends},
            request=request,
        )
    try:
        messaging.send_consent_code(session=session, channel=channel, code=code)
    except messaging.DeliveryError as error:
        logger.warning("could not send a consent code for session %s: %s", session.pk, error)
        raise JourneyError(
            gettext("The code could not be sent just now. Please try again in a minute.")
        ) from error
    return channel


def check_consent_code(
    *, session: VerificationSession, code: str, request: HttpRequest | None = None
) -> None:
    """The person entered their code: right, and their group serves the new consent; wrong,
    expired or tried too often, a `JourneyError` says what to do."""
    code = "".join(code.split())
    with transaction.atomic():
        sent = ConsentCode.objects.select_for_update().filter(session=session).first()
        problem = _code_problem(session, sent, code)
        if problem is None and sent is not None:
            ConsentCode.objects.filter(pk=sent.pk).update(used_at=timezone.now())
            _reuse_group(session, proof={"consent_proof": "code", "channel": sent.channel})
        elif problem == "wrong" and sent is not None:
            # Counted and committed before the person is told: a refusal must not undo it.
            ConsentCode.objects.filter(pk=sent.pk).update(failed_attempts=F("failed_attempts") + 1)
            left = settings.CONSENT_CODE_ATTEMPTS - sent.failed_attempts - 1
            record(
                action="consent_code.failed",
                actor=Actor.person(session.person_id),
                subject=session,
                person_id=session.person_id,
                payload={"attempts_left": left},
                request=request,
            )
    if problem is None:
        return
    if problem == "wrong":
        if left <= 0:
            raise JourneyError(gettext("Too many wrong codes. Ask for a new code below."))
        raise JourneyError(
            ngettext(
                "That code is not right. You can try %(left)d more time.",
                "That code is not right. You can try %(left)d more times.",
                left,
            )
            % {"left": left}
        )
    raise JourneyError(problem)


def _code_problem(session: VerificationSession, sent: ConsentCode | None, code: str) -> str | None:
    """None when `code` is the one sent and still good; "wrong"; or what to tell the person."""
    if not session.awaits_code or sent is None or sent.used_at is not None:
        return gettext("There is no code waiting for this consent.")
    if sent.failed_attempts >= settings.CONSENT_CODE_ATTEMPTS:
        return gettext("Too many wrong codes. Ask for a new code below.")
    if sent.expires_at <= timezone.now():
        return gettext("This code has expired. Ask for a new code below.")
    if code.isdigit() and constant_time_compare(sent.code_hash, _code_hash(session, code)):
        return None
    return "wrong"


def _reuse_group(session: VerificationSession, *, proof: dict[str, str]) -> None:
    """The person proved it is them: their verified group serves the new consent."""
    from verification.notifications import notify_outcome

    if session.move(Status.CONSENTED, Status.VERIFIED, completed_at=timezone.now()):
        record(
            action="verification.group_reused",
            actor=Actor.person(session.person_id),
            subject=session,
            person_id=session.person_id,
            payload={
                "group_id": session.upstream_group_id,
                "account_id": session.account_id,
                **proof,
            },
        )
        transaction.on_commit(lambda: notify_outcome(session_id=session.pk))


# --- Staff actions and housekeeping -----------------------------------------------------------


def cancel_session(*, session: VerificationSession, actor: Actor, reason: str) -> None:
    """Close the session and its links. Staff say why; the ledger keeps who and why."""
    require_reason(actor, reason)
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
            actor=actor,
            subject=session,
            person_id=session.person_id,
            payload={"links_revoked": revoked, "reason": reason},
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

"""Liveness: upstream verification sessions (attempts), their results, and polling for them.

Each press of "Start verification" makes a fresh upstream session (its link lives ~120 s); any
attempt that yields a GroupId verifies the session. Upstream calls happen outside transactions;
each state change is a compare-and-swap recorded in the ledger in the same transaction.
"""

import logging
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from assets.models import AssetGroup
from ledger.services import Actor, record
from upstream.errors import UpstreamAuthError, UpstreamError, UpstreamUnavailable
from upstream.factory import client_for
from verification.models import Invitation, Language, LivenessAttempt, VerificationSession
from verification.services import JourneyError

logger = logging.getLogger(__name__)

Status = VerificationSession.Status
SUCCESS_RESULT_CODE = "10000"
# Seconds between result polls: quick while the person is likely on the page, then easing off.
POLL_BACKOFF = (3, 3, 3, 5, 5, 10, 10, 15, 20, 30, 60)
POLL_LEASE = timedelta(seconds=60)


# --- Liveness ---------------------------------------------------------------------------------


def start_liveness(
    *, session: VerificationSession, request: HttpRequest | None, language: str | None = None
) -> str:
    """Create an upstream verification session now and return the H5 link to send the phone to,
    in `language` (the one the person chose on our pages; their stored language by default).

    Each call makes a fresh upstream session (its link lives ~120 s); earlier attempts keep being
    polled until they expire, in case the person finished one of them after all.
    """
    if session.status == Status.VERIFIED:
        raise JourneyError(gettext("You are already verified. There is nothing more to do."))
    if not session.can_start_liveness:
        raise JourneyError(gettext("Please read and accept the consent first."))
    ref = secrets.token_urlsafe(32)
    callback_url = settings.PUBLIC_BASE_URL + reverse("person:callback", args=[ref])
    try:
        started = client_for(session.account, interactive=True).start_verification(
            callback_url=callback_url
        )
    except UpstreamError as error:
        _note_session_error(session, error)
        raise JourneyError(_person_words(error)) from error
    now = timezone.now()
    with transaction.atomic():
        attempt = LivenessAttempt.objects.create(
            session=session,
            ref=ref,
            byted_token=started.byted_token,
            byted_token_hash=Invitation.hash_token(started.byted_token),
            h5_expires_at=now + settings.LIVENESS_LINK_TTL,
            expires_at=now + settings.LIVENESS_RESULT_WINDOW,
            next_poll_at=now + timedelta(seconds=POLL_BACKOFF[0]),
        )
        session.move((Status.CONSENTED, Status.FAILED), Status.VERIFYING, last_error="")
        record(
            action="verification.started",
            actor=Actor.person(session.person_id) if request else Actor.system(),
            subject=session,
            person_id=session.person_id,
            payload={"attempt": attempt.pk, "account_id": session.account_id},
            request=request,
        )
    chosen = language if language in Language.values else session.person.language
    return started.h5_link_for_language(Language(chosen).upstream_lng)


def confirm_attempt(
    *, attempt: LivenessAttempt, reported_code: str = "", interactive: bool = False
) -> LivenessAttempt:
    """Ask the upstream for the attempt's result and act on it.

    `reported_code` is the callback's `resultCode`: a hint only. Success needs a GroupId from the
    upstream; a failure code with no GroupId ends the attempt so the person can try again.
    `interactive` when a person waits on the page: shorter timeouts, fewer retries.
    """
    if attempt.status != LivenessAttempt.Status.PENDING:
        return attempt
    session = attempt.session
    client = client_for(session.account, interactive=interactive)
    result = client.get_verification_result(byted_token=attempt.byted_token)
    now = timezone.now()
    if result.finished:
        complete_verification(attempt=attempt, group_id=result.group_id, result_code=reported_code)
    elif reported_code and reported_code != SUCCESS_RESULT_CODE:
        _fail_attempt(attempt, reported_code)
    else:
        LivenessAttempt.objects.filter(pk=attempt.pk).update(
            last_polled_at=now, poll_count=attempt.poll_count + 1, last_error=""
        )
    attempt.refresh_from_db()
    return attempt


def complete_verification(
    *, attempt: LivenessAttempt, group_id: str, result_code: str = ""
) -> None:
    """Store the GroupId the moment it arrives, with its group and the evidence, in one commit."""
    from verification.notifications import notify_outcome

    session = attempt.session
    now = timezone.now()
    with transaction.atomic():
        claimed = LivenessAttempt.objects.filter(
            pk=attempt.pk, status=LivenessAttempt.Status.PENDING
        ).update(
            status=LivenessAttempt.Status.SUCCEEDED,
            group_id=group_id,
            result_code=result_code or SUCCESS_RESULT_CODE,
            completed_at=now,
            lease_until=None,
        )
        if not claimed:
            return
        moved = session.move(
            (Status.CONSENTED, Status.VERIFYING, Status.FAILED),
            Status.VERIFIED,
            upstream_group_id=group_id,
            completed_at=now,
            last_error="",
        )
        if not moved:
            # Verified by another attempt already, or cancelled meanwhile: keep the evidence only.
            record(
                action="verification.late_result",
                actor=Actor.system(),
                subject=session,
                person_id=session.person_id,
                payload={"attempt": attempt.pk, "group_id": group_id, "status": session.status},
            )
            return
        group, _ = AssetGroup.objects.get_or_create(
            account_id=session.account_id,
            upstream_id=group_id,
            defaults={"person_id": session.person_id, "session": session},
        )
        record(
            action="verification.completed",
            actor=Actor.system(),
            subject=session,
            person_id=session.person_id,
            payload={"attempt": attempt.pk, "group_id": group_id, "polls": attempt.poll_count},
        )
        record(
            action="group.stored",
            actor=Actor.system(),
            subject=group,
            person_id=session.person_id,
            payload={"group_id": group_id, "account_id": session.account_id},
        )
        transaction.on_commit(lambda: notify_outcome(session_id=session.pk))


def _fail_attempt(attempt: LivenessAttempt, result_code: str) -> None:
    from verification.notifications import notify_outcome

    session = attempt.session
    with transaction.atomic():
        claimed = LivenessAttempt.objects.filter(
            pk=attempt.pk, status=LivenessAttempt.Status.PENDING
        ).update(
            status=LivenessAttempt.Status.FAILED,
            result_code=result_code,
            completed_at=timezone.now(),
            lease_until=None,
        )
        if not claimed:
            return
        still_waiting = session.attempts.filter(status=LivenessAttempt.Status.PENDING).exists()
        moved = not still_waiting and session.move(
            Status.VERIFYING,
            Status.FAILED,
            last_error=f"Liveness check failed (code {result_code}).",
        )
        record(
            action="verification.failed",
            actor=Actor.system(),
            subject=session,
            person_id=session.person_id,
            payload={"attempt": attempt.pk, "result_code": result_code},
        )
        if moved:
            transaction.on_commit(lambda: notify_outcome(session_id=session.pk))


def _expire_attempt(attempt: LivenessAttempt) -> None:
    session = attempt.session
    with transaction.atomic():
        claimed = LivenessAttempt.objects.filter(
            pk=attempt.pk, status=LivenessAttempt.Status.PENDING
        ).update(
            status=LivenessAttempt.Status.EXPIRED, lease_until=None, completed_at=timezone.now()
        )
        if not claimed:
            return
        if not session.attempts.filter(status=LivenessAttempt.Status.PENDING).exists():
            # The person never finished: back to "consented", so their link can start again.
            session.move(Status.VERIFYING, Status.CONSENTED)
        record(
            action="verification.attempt_expired",
            actor=Actor.system(),
            subject=session,
            person_id=session.person_id,
            payload={"attempt": attempt.pk, "polls": attempt.poll_count},
        )


# --- Polling ----------------------------------------------------------------------------------


def claim_due_attempts(*, batch: int = 200, now: datetime | None = None) -> tuple[str, list[int]]:
    """Lease up to `batch` attempts due for a poll; a constant number of queries per batch.

    Returns the lease token and the claimed ids. A poll runs only with the token it was leased
    with, so two sweeps, or a redelivered task, never poll the same attempt at once.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        ids = list(
            LivenessAttempt.objects.due_for_poll(now)
            .order_by("next_poll_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch]
        )
        if ids:
            LivenessAttempt.objects.filter(pk__in=ids).update(
                lease_until=now + POLL_LEASE, lease_token=token
            )
    return token, ids


def poll_attempt(*, attempt_id: int, lease_token: str) -> None:
    """One poll of one attempt, by the holder of its lease."""
    if not LivenessAttempt.objects.filter(pk=attempt_id, lease_token=lease_token).update(
        lease_token=""
    ):
        return
    attempt = LivenessAttempt.objects.select_related("session__account", "session__person").get(
        pk=attempt_id
    )
    if attempt.status != LivenessAttempt.Status.PENDING:
        return
    if attempt.session.is_terminal:
        LivenessAttempt.objects.filter(pk=attempt.pk).update(
            status=LivenessAttempt.Status.SUPERSEDED, lease_until=None
        )
        return
    now = timezone.now()
    if now >= attempt.expires_at:
        _expire_attempt(attempt)
        return
    error_text = ""
    retry_after: float | None = None
    try:
        attempt = confirm_attempt(attempt=attempt)
    except UpstreamError as error:
        error_text = str(error)
        retry_after = error.retry_after if isinstance(error, UpstreamUnavailable) else None
        _note_session_error(attempt.session, error)
        logger.warning("liveness poll of attempt %s failed: %s", attempt.pk, error_text)
    if attempt.status == LivenessAttempt.Status.PENDING:
        delay: float = POLL_BACKOFF[min(attempt.poll_count, len(POLL_BACKOFF) - 1)]
        if retry_after:
            delay = max(delay, retry_after)
        LivenessAttempt.objects.filter(pk=attempt.pk).update(
            next_poll_at=timezone.now() + timedelta(seconds=delay),
            lease_until=None,
            last_error=error_text,
            poll_count=attempt.poll_count + (1 if error_text else 0),
        )


def _note_session_error(session: VerificationSession, error: UpstreamError) -> None:
    """Keep the latest upstream problem on the session, in words staff can act on."""
    text = f"{error.explanation} {error.fix}".strip()
    if isinstance(error, UpstreamAuthError):
        text = f"The upstream account “{session.account.name}” was refused: {text}"
    VerificationSession.objects.filter(pk=session.pk).update(last_error=text[:2000])


def _person_words(error: UpstreamError) -> str:
    if isinstance(error, UpstreamUnavailable):
        return gettext(
            "The verification service is not answering right now. Please try again in a minute."
        )
    return gettext(
        "Verification cannot start right now. Please contact the studio; they have been told why."
    )

"""Liveness: upstream verification sessions (attempts), their results, and polling for them.

Each press of "Start verification" makes a fresh upstream session (its link lives ~120 s); any
attempt that yields a GroupId verifies the session. Upstream calls happen outside transactions;
each state change is a compare-and-swap recorded in the ledger in the same transaction.
"""

import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from assets.models import AssetGroup
from ledger.services import Actor, record
from upstream.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamUnavailable,
    VerificationExpired,
)
from upstream.factory import client_for
from verification.models import Invitation, Language, LivenessAttempt, VerificationSession
from verification.services import JourneyError

logger = logging.getLogger(__name__)

Status = VerificationSession.Status
SUCCESS_RESULT_CODE = "10000"
# The callback's query beside resultCode: undocumented (algorithmBaseRespCode, reqMeasureInfoValue,
# verify_type were seen), kept as evidence of a failure, bounded, never the token.
_DETAIL_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_DETAIL_VALUE = re.compile(r"^[\w.:+-]{0,64}$")
_NOT_DETAILS = frozenset({"bytedToken", "resultCode", "lang"})
MAX_DETAILS = 8
# Seconds between result polls: quick while the person is likely on the page, then easing off.
POLL_BACKOFF = (3, 3, 3, 5, 5, 10, 10, 15, 20, 30, 60)
POLL_LEASE = timedelta(seconds=60)
# An attempt a GroupId can still complete: waiting, or lost by a read that lost a race.
RESULT_OPEN = (LivenessAttempt.Status.PENDING, LivenessAttempt.Status.LOST)


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
    *,
    attempt: LivenessAttempt,
    reported_code: str = "",
    details: dict[str, str] | None = None,
    interactive: bool = False,
) -> LivenessAttempt:
    """Ask the upstream for the attempt's result and act on it.

    `reported_code` is the callback's `resultCode`: a hint only. Success needs a GroupId from the
    upstream; a failure code with no GroupId ends the attempt so the person can try again (the
    upstream creates a group only on a success redirect, so a failure redirect ends it even when
    the upstream can't be asked). `details` are the callback's undocumented parameters, kept as
    evidence. `interactive` when a person waits on the page: shorter timeouts, fewer retries.

    The result may be readable only once (CONTRACT.md §2): the first GroupId is stored before
    anything else is done with it, an attempt that already holds one is completed from it without
    asking again, and a result the upstream no longer gives ends the attempt as lost.
    """
    if attempt.status != LivenessAttempt.Status.PENDING:
        return attempt
    failure_hint = bool(reported_code) and reported_code != SUCCESS_RESULT_CODE
    if attempt.group_id:
        complete_verification(attempt=attempt, group_id=attempt.group_id, result_code=reported_code)
        attempt.refresh_from_db()
        return attempt
    session = attempt.session
    client = client_for(session.account, interactive=interactive)
    try:
        result = client.get_verification_result(byted_token=attempt.byted_token)
    except VerificationExpired as error:
        attempt.refresh_from_db()
        if attempt.group_id:  # a read running beside this one got it first
            complete_verification(attempt=attempt, group_id=attempt.group_id)
        elif failure_hint:
            _fail_attempt(attempt, reported_code, details)
        else:
            _lose_attempt(attempt, error)
        attempt.refresh_from_db()
        return attempt
    except UpstreamError:
        if not failure_hint:
            raise
        _fail_attempt(attempt, reported_code, details)
        attempt.refresh_from_db()
        return attempt
    now = timezone.now()
    if result.finished:
        _keep_group_id(attempt, result.group_id)
        complete_verification(attempt=attempt, group_id=result.group_id, result_code=reported_code)
    elif failure_hint:
        _fail_attempt(attempt, reported_code, details)
    else:
        LivenessAttempt.objects.filter(pk=attempt.pk).update(
            last_polled_at=now, poll_count=attempt.poll_count + 1, last_error=""
        )
    attempt.refresh_from_db()
    return attempt


def callback_details(query: Mapping[str, str]) -> dict[str, str]:
    """The callback's other parameters that look like codes, for the record of a failure."""
    details: dict[str, str] = {}
    for key, value in query.items():
        if key in _NOT_DETAILS or not _DETAIL_KEY.match(key) or not _DETAIL_VALUE.match(value):
            continue
        details[key] = value
        if len(details) >= MAX_DETAILS:
            break
    return details


def _keep_group_id(attempt: LivenessAttempt, group_id: str) -> None:
    """The GroupId in a commit of its own, before the group, the session and the ledger: if any
    of those fails, the next poll completes from it instead of asking an upstream that may answer
    only once. A read beside this one may have just ended the attempt as lost (its own read was
    refused as already used): the GroupId is kept all the same, and completes it."""
    with transaction.atomic():
        LivenessAttempt.objects.filter(pk=attempt.pk, status__in=RESULT_OPEN, group_id="").update(
            group_id=group_id
        )
    attempt.group_id = group_id


def complete_verification(
    *, attempt: LivenessAttempt, group_id: str, result_code: str = ""
) -> None:
    """Store the GroupId the moment it arrives, with its group and the evidence, in one commit."""
    from verification.notifications import notify_outcome

    session = attempt.session
    now = timezone.now()
    with transaction.atomic():
        claimed = LivenessAttempt.objects.filter(pk=attempt.pk, status__in=RESULT_OPEN).update(
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


def _fail_attempt(
    attempt: LivenessAttempt, result_code: str, details: dict[str, str] | None = None
) -> None:
    from verification.notifications import notify_outcome

    session = attempt.session
    details = details or {}
    described = "; ".join(f"{key} {value}" for key, value in sorted(details.items()))
    staff_text = (
        f"The liveness check on the phone did not pass (resultCode {result_code}"
        + (f"; {described}" if described else "")
        + "). The person can try again from the same link."
    )
    with transaction.atomic():
        claimed = LivenessAttempt.objects.filter(
            pk=attempt.pk, status=LivenessAttempt.Status.PENDING
        ).update(
            status=LivenessAttempt.Status.FAILED,
            result_code=result_code,
            completed_at=timezone.now(),
            lease_until=None,
            last_error=staff_text,
        )
        if not claimed:
            return
        still_waiting = session.attempts.filter(status=LivenessAttempt.Status.PENDING).exists()
        moved = not still_waiting and session.move(
            Status.VERIFYING, Status.FAILED, last_error=staff_text
        )
        if not moved:
            VerificationSession.objects.filter(pk=session.pk).update(last_error=staff_text)
        record(
            action="verification.failed",
            actor=Actor.system(),
            subject=session,
            person_id=session.person_id,
            payload={"attempt": attempt.pk, "result_code": result_code, "details": details},
        )
        if moved:
            transaction.on_commit(lambda: notify_outcome(session_id=session.pk))


RESULT_LOST = (
    "The upstream no longer gives the result of a liveness attempt ({code}): it was read once "
    "and that answer never arrived here, or the attempt expired. A group it may have made can't "
    "be recovered; the person has to start a new check from their link."
)


def _lose_attempt(attempt: LivenessAttempt, error: UpstreamError) -> None:
    """The upstream won't answer for the attempt any more, and no GroupId was stored."""
    session = attempt.session
    text = RESULT_LOST.format(code=error.code)
    with transaction.atomic():
        claimed = LivenessAttempt.objects.filter(
            pk=attempt.pk, status=LivenessAttempt.Status.PENDING, group_id=""
        ).update(
            status=LivenessAttempt.Status.LOST,
            completed_at=timezone.now(),
            lease_until=None,
            last_error=text,
        )
        if not claimed:
            return
        if not session.attempts.filter(status=LivenessAttempt.Status.PENDING).exists():
            # Back to "consented": the person's link starts a new check.
            session.move(Status.VERIFYING, Status.CONSENTED)
        VerificationSession.objects.filter(pk=session.pk).update(last_error=text)
        record(
            action="verification.result_lost",
            actor=Actor.system(),
            subject=session,
            person_id=session.person_id,
            payload={"attempt": attempt.pk, "code": error.code},
        )


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
    if now >= attempt.expires_at and not attempt.group_id:
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

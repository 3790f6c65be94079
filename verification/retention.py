"""Retention: how long local media and a person's likeness are kept, and destroying them on time.

Local copies. The portal keeps an uploaded file only while the upstream needs it.
`RETENTION_LOCAL_MEDIA_DAYS` after an asset reached Active or Failed (`completed_at`), the original
upload and any forward copy left in media storage are deleted. The Asset row (name, size, SHA-256,
upstream id) stays as evidence, and the ledger records `asset.local_copy_destroyed`.

Persons. A person's retention deadline is the earliest of:

1. ``last_interaction`` — `last_interaction_at` + `RETENTION_PERSON_DAYS` (BIPA: at most three
   years after the person's last interaction with the studio);
2. ``term_ended`` — the purpose is done because every consent of theirs has ended: withdrawn (at
   `withdrawn_at`) or past its term (00:00 UTC the day after `term_ends_on`, when
   `Consent.is_active` turns false). The deadline is when the last of them ended. One consent that
   is neither withdrawn nor limited in time keeps this clock from running;
3. ``project_closed`` — the purpose is done because the project of every consent is closed
   (inactive): the last closing (`Project.closed_at`) + `RETENTION_PROJECT_CLOSED_DAYS`, time for
   staff to reopen a project closed by mistake.

A person without consents has only the first clock. At the deadline every consent not yet
withdrawn is withdrawn (actor: system "retention") and each is destroyed by `withdrawal.destroy`,
the one destruction path: upstream assets, then the group, then local copies. The ledger records
`retention.applied` with what the run did. A person stays due while past the deadline and holding
a consent not yet destroyed, so a run after an upstream outage finishes the job (the withdrawal
sweep retries it too), and a run after success finds nothing to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db import models, transaction
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from assets import storage
from assets.models import Asset
from ledger.services import Actor, record
from upstream.errors import UpstreamError
from verification import withdrawal
from verification.models import AuthorizingPerson, Consent

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

logger = logging.getLogger(__name__)

ACTOR = Actor.system("retention")
# Staff see deadlines this far ahead on the dashboard.
UPCOMING = timedelta(days=30)
LOCAL_COPY_STATUSES = (Asset.Status.ACTIVE, Asset.Status.FAILED, Asset.Status.INACTIVE)


class Reason(models.TextChoices):
    LAST_INTERACTION = "last_interaction", "Time since last interaction"
    TERM_ENDED = "term_ended", "Every consent has ended"
    PROJECT_CLOSED = "project_closed", "Every project is closed"


# --- Deadlines ------------------------------------------------------------------------------------


class Deadline(TypedDict):
    retention_deadline: datetime
    retention_reason: str
    retention_pending: bool


if TYPE_CHECKING:
    PersonWithDeadline = WithAnnotations[AuthorizingPerson, Deadline]


def with_deadlines(
    persons: QuerySet[AuthorizingPerson] | None = None, *, now: datetime | None = None
) -> QuerySet[PersonWithDeadline]:
    """`persons` annotated with `retention_deadline` (datetime), `retention_reason` (a `Reason`)
    and `retention_pending` (True while a consent of theirs is not yet destroyed), in SQL."""
    now = now or timezone.now()
    persons = AuthorizingPerson.objects.all() if persons is None else persons
    consents = Consent.objects.filter(person=OuterRef("pk"))
    term_end = ExpressionWrapper(
        Cast("term_ends_on", DateTimeField()) + Value(timedelta(days=1)),
        output_field=DateTimeField(),
    )
    # When a consent stopped holding: withdrawal or end of term, whichever came first.
    ended_at = Case(
        When(withdrawn_at__isnull=True, then=term_end),
        When(term_ends_on__isnull=True, then=F("withdrawn_at")),
        When(withdrawn_at__lt=term_end, then=F("withdrawn_at")),
        default=term_end,
        output_field=DateTimeField(),
    )
    last_ended = (
        consents.filter(Q(withdrawn_at__isnull=False) | Q(term_ends_on__isnull=False))
        .annotate(ended_at=ended_at)
        .order_by("-ended_at")
        .values("ended_at")[:1]
    )
    persons = persons.annotate(
        _has_consent=Exists(consents),
        _open_project=Exists(consents.filter(project__is_active=True)),
        _open_ended=Exists(consents.filter(withdrawn_at__isnull=True, term_ends_on__isnull=True)),
        _last_ended=Subquery(last_ended, output_field=DateTimeField()),
        _last_closed=Subquery(
            consents.order_by("-project__closed_at").values("project__closed_at")[:1],
            output_field=DateTimeField(),
        ),
        _interaction_deadline=ExpressionWrapper(
            F("last_interaction_at") + Value(timedelta(days=settings.RETENTION_PERSON_DAYS)),
            output_field=DateTimeField(),
        ),
        retention_pending=Exists(consents.filter(destroyed_at__isnull=True)),
    )
    persons = persons.annotate(
        _purpose_done=Case(
            When(_has_consent=False, then=None),
            When(
                _open_project=False,
                then=ExpressionWrapper(
                    F("_last_closed")
                    + Value(timedelta(days=settings.RETENTION_PROJECT_CLOSED_DAYS)),
                    output_field=DateTimeField(),
                ),
            ),
            When(_open_ended=True, then=None),
            default=F("_last_ended"),
            output_field=DateTimeField(),
        ),
        _purpose_reason=Case(
            When(_open_project=False, then=Value(Reason.PROJECT_CLOSED.value)),
            default=Value(Reason.TERM_ENDED.value),
        ),
    )
    # LEAST() is not used: SQLite's MIN() of a NULL is NULL, PostgreSQL's LEAST() skips it.
    purpose_first = Q(_purpose_done__isnull=False, _purpose_done__lt=F("_interaction_deadline"))
    return persons.annotate(
        retention_deadline=Case(
            When(purpose_first, then=F("_purpose_done")),
            default=F("_interaction_deadline"),
            output_field=DateTimeField(),
        ),
        retention_reason=Case(
            When(purpose_first, then=F("_purpose_reason")),
            default=Value(Reason.LAST_INTERACTION.value),
        ),
    )


def deadline_for(person: AuthorizingPerson, *, now: datetime | None = None) -> datetime:
    """The person's retention deadline (see the module docstring for the rule)."""
    deadline: datetime = (
        with_deadlines(AuthorizingPerson.objects.filter(pk=person.pk), now=now)
        .values_list("retention_deadline", flat=True)
        .get()
    )
    return deadline


def due_persons(*, now: datetime | None = None) -> QuerySet[PersonWithDeadline]:
    """Persons past their deadline who still hold something to destroy, earliest first."""
    now = now or timezone.now()
    return (
        with_deadlines(now=now)
        .filter(Q(retention_pending=True), Q(retention_deadline__lte=now))
        .order_by("retention_deadline", "pk")
    )


def upcoming(
    *, now: datetime | None = None, within: timedelta = UPCOMING
) -> QuerySet[PersonWithDeadline]:
    """Persons holding something whose deadline has passed or falls within `within`."""
    now = now or timezone.now()
    return (
        with_deadlines(now=now)
        .filter(Q(retention_pending=True), Q(retention_deadline__lte=now + within))
        .order_by("retention_deadline", "pk")
    )


def expired_local_copies(*, now: datetime | None = None) -> QuerySet[Asset]:
    """Assets settled upstream longer ago than `RETENTION_LOCAL_MEDIA_DAYS` whose file is kept."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RETENTION_LOCAL_MEDIA_DAYS)
    return (
        Asset.objects.filter(status__in=LOCAL_COPY_STATUSES, completed_at__lte=cutoff)
        .exclude(file="")
        .select_related("group")
        .order_by("pk")
    )


# --- Carrying it out ------------------------------------------------------------------------------


@dataclass
class LocalCopyOutcome:
    asset_id: int
    person_id: int
    completed_at: datetime | None
    error: str = ""


@dataclass
class PersonOutcome:
    person_id: int
    deadline: datetime
    reason: str
    to_withdraw: int = 0
    to_destroy: int = 0
    withdrawn: int = 0
    destroyed: int = 0
    error: str = ""


@dataclass
class Report:
    """What a run did (or, dry, would do)."""

    dry_run: bool
    local_copies: list[LocalCopyOutcome] = field(default_factory=list)
    persons: list[PersonOutcome] = field(default_factory=list)

    @property
    def failures(self) -> int:
        copies = sum(1 for copy in self.local_copies if copy.error)
        return copies + sum(1 for person in self.persons if person.error)


def apply(*, now: datetime | None = None, dry_run: bool = False) -> Report:
    """Destroy expired local copies, then carry out every person's passed deadline.

    A failure (upstream down, a file in flight) is reported, not raised: the next run retries it.
    With `dry_run`, nothing changes and the report says what would be done.
    """
    now = now or timezone.now()
    report = Report(dry_run=dry_run)
    # Listed before acting: rows change under the loop, and SQLite cursors see their own writes.
    for asset in list(expired_local_copies(now=now)):
        report.local_copies.append(destroy_local_copy(asset=asset, dry_run=dry_run))
    for person in list(due_persons(now=now)):
        report.persons.append(apply_to_person(person=person, dry_run=dry_run))
    return report


def destroy_local_copy(*, asset: Asset, dry_run: bool = False) -> LocalCopyOutcome:
    """Delete the asset's stored file (under MEDIA_ROOT or in the bucket); the row and its SHA-256
    stay as evidence."""
    outcome = LocalCopyOutcome(asset.pk, asset.group.person_id, asset.completed_at)
    if dry_run:
        return outcome
    name = asset.file.name or ""
    try:
        # Files first, then the row: a crash in between leaves a row that the next run retries.
        storage.delete(name)
    except storage.STORAGE_ERRORS as error:
        logger.warning("retention could not delete the files of asset %s: %s", asset.pk, error)
        outcome.error = type(error).__name__
        return outcome
    with transaction.atomic():
        if Asset.objects.filter(pk=asset.pk, file=name).update(file=""):
            record(
                action="asset.local_copy_destroyed",
                actor=ACTOR,
                subject=asset,
                person_id=asset.group.person_id,
                payload={
                    "sha256": asset.sha256,
                    "upstream_id": asset.upstream_id,
                    "status": asset.status,
                    "completed_at": asset.completed_at.isoformat() if asset.completed_at else None,
                    "retention_days": settings.RETENTION_LOCAL_MEDIA_DAYS,
                },
            )
    return outcome


def apply_to_person(*, person: PersonWithDeadline, dry_run: bool = False) -> PersonOutcome:
    """Withdraw what still stands and destroy everything the person's consents covered.

    `person` comes from `due_persons()`, which vouches that the deadline has passed.
    """
    outcome = PersonOutcome(person.pk, person.retention_deadline, person.retention_reason)
    consents = list(
        Consent.objects.filter(person=person, destroyed_at__isnull=True)
        .select_related("project")
        .order_by("pk")
    )
    outcome.to_withdraw = sum(1 for consent in consents if consent.withdrawn_at is None)
    outcome.to_destroy = len(consents)
    if dry_run or not consents:
        return outcome
    for consent in consents:
        if consent.withdrawn_at is None and withdrawal.withdraw_consent(
            consent=consent, actor=ACTOR
        ):
            outcome.withdrawn += 1
    for consent in consents:
        try:
            if withdrawal.destroy(consent_id=consent.pk):
                outcome.destroyed += 1
        except (UpstreamError, withdrawal.DestructionPending) as error:
            # The consent stays withdrawn and not destroyed: the next run and the withdrawal
            # sweep both pick it up.
            logger.warning("retention of person %s waits: %s", person.pk, type(error).__name__)
            outcome.error = type(error).__name__
            break
    with transaction.atomic():
        record(
            action="retention.applied",
            actor=ACTOR,
            subject=person,
            person_id=person.pk,
            payload={
                "deadline": outcome.deadline.isoformat(),
                "reason": outcome.reason,
                "consents_withdrawn": outcome.withdrawn,
                "consents_destroyed": outcome.destroyed,
                "consents_pending": outcome.to_destroy - outcome.destroyed,
                "error": outcome.error,
            },
        )
    return outcome

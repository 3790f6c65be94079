"""A consent's end is a date, not an act, so nothing records it: this does, once per consent,
`CONSENT_EXPIRING_DAYS` before the end (`consent.expiring`) and when it has passed
(`consent.expired`). The ledger events feed the webhooks and void the clearances."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.models import ConsentMilestone
from ledger.services import Actor, record
from verification.models import Consent

ACTOR = Actor.system("integrations.consent_milestones")
Kind = ConsentMilestone.Kind


def record_milestones(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    today = now.date()
    live = Consent.objects.filter(withdrawn_at__isnull=True, term_ends_on__isnull=False)
    soon = today + timedelta(days=settings.CONSENT_EXPIRING_DAYS)
    found = [
        *((c, Kind.EXPIRING) for c in live.filter(term_ends_on__gte=today, term_ends_on__lte=soon)),
        *((c, Kind.EXPIRED) for c in live.filter(term_ends_on__lt=today)),
    ]
    done = set(
        ConsentMilestone.objects.filter(consent_id__in=[c.pk for c, _ in found]).values_list(
            "consent_id", "kind"
        )
    )
    recorded = 0
    for consent, kind in found:
        if (consent.pk, kind) in done:
            continue
        try:
            with transaction.atomic():
                ConsentMilestone.objects.create(consent=consent, kind=kind, at=now)
                record(
                    action=f"consent.{kind}",
                    actor=ACTOR,
                    subject=consent,
                    person_id=consent.person_id,
                    payload={"term_ends_on": consent.term_ends_on.isoformat()},  # type: ignore[union-attr]
                )
        except IntegrityError:
            continue  # another run recorded it first
        recorded += 1
    return recorded

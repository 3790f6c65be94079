"""Withdrawing consent, and destroying what it covered: upstream assets, then the group, then the
local copies. Withdrawal takes effect at once; destruction is retried by workers until done.
"""

import contextlib
import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation

from assets import services as asset_services
from assets.models import Asset, AssetGroup
from ledger.models import ActorKind
from ledger.services import Actor, record
from portal.confirm import require_reason
from portal.queueing import enqueue_on_commit
from upstream.errors import GroupNotFound
from upstream.factory import client_for
from verification.models import Consent

logger = logging.getLogger(__name__)


class DestructionPending(Exception):
    """Something is still on its way upstream; destruction must wait for it to settle."""


def withdraw_consent(
    *, consent: Consent, actor: Actor, reason: str = "", request: HttpRequest | None = None
) -> bool:
    """Withdraw now: nothing more is forwarded under this consent, and its destruction is queued.

    Staff withdrawing on the person's behalf say why (`reason`, kept in the ledger with who did
    it); the person withdrawing through their own link, or retention, need not.
    Returns False when it was already withdrawn (then nothing happens).
    """
    require_reason(actor, reason)
    from verification.tasks import destroy_withdrawn

    now = timezone.now()
    with transaction.atomic():
        if not Consent.objects.filter(pk=consent.pk, withdrawn_at__isnull=True).update(
            withdrawn_at=now
        ):
            return False
        stopped = Asset.objects.filter(
            consent=consent, status__in=(Asset.Status.RECEIVED, Asset.Status.VALIDATED)
        ).update(
            status=Asset.Status.REJECTED,
            error_code="ConsentWithdrawn",
            error_message="Not sent: the person withdrew their consent.",
            completed_at=now,
            updated_at=now,
        )
        record(
            action="consent.withdrawn",
            actor=actor,
            subject=consent,
            person_id=consent.person_id,
            payload={
                "project": consent.project.name,
                "text_sha256": consent.text_sha256,
                "uploads_stopped": stopped,
                "on_behalf": actor.kind == ActorKind.STAFF,
                "reason": reason,
            },
            request=request,
        )
        enqueue_on_commit(
            destroy_withdrawn, consent.pk, sweep="verification.tasks.sweep_withdrawals"
        )
    consent.refresh_from_db()
    return True


def destroy(*, consent_id: int) -> bool:
    """Delete every asset the withdrawn consent covered (upstream, then here), then the group when
    no other consent holds it. Safe to run again; returns True once everything is gone.

    Raises an `UpstreamError` or `DestructionPending` when a step must be retried later.
    """
    consent = Consent.objects.select_related("person", "session").get(pk=consent_id)
    if consent.withdrawn_at is None or consent.destroyed_at is not None:
        return consent.destroyed_at is not None
    assets = list(
        Asset.objects.filter(consent=consent)
        .exclude(status=Asset.Status.DELETED)
        .select_related("group__account")
    )
    for asset in assets:
        _destroy_asset(asset)
    session = consent.session
    group = (
        AssetGroup.objects.filter(
            account_id=session.account_id,
            upstream_id=session.upstream_group_id,
            deleted_at__isnull=True,
        ).first()
        if session is not None and session.upstream_group_id
        else None
    )
    if group is not None and asset_services.active_consent(group) is None:
        _destroy_group(group)
    now = timezone.now()
    with transaction.atomic():
        if not Consent.objects.filter(pk=consent.pk, destroyed_at__isnull=True).update(
            destroyed_at=now
        ):
            return True
        record(
            action="destruction.completed",
            actor=Actor.system(),
            subject=consent,
            person_id=consent.person_id,
            payload={"assets_deleted": len(assets), "group_deleted": group is not None},
        )
        transaction.on_commit(lambda: _confirm_to_person(consent))
    return True


def _destroy_asset(asset: Asset) -> None:
    if (
        asset.status == Asset.Status.FORWARDING
        and asset.lease_until
        and asset.lease_until > timezone.now()
    ):
        raise DestructionPending(f"asset {asset.pk} is being forwarded right now")
    asset_services.delete_asset(asset=asset, actor=Actor.system(), reason="withdrawal")


def _destroy_group(group: AssetGroup) -> None:
    leftovers = group.assets.exclude(status=Asset.Status.DELETED)
    if leftovers.exists():
        # Assets under another (now inactive) consent go too: the group is deleted whole.
        for asset in leftovers.select_related("group__account"):
            _destroy_asset(asset)
    with contextlib.suppress(GroupNotFound):
        client_for(group.account).delete_group(group_id=group.upstream_id)
    with transaction.atomic():
        if AssetGroup.objects.filter(pk=group.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        ):
            record(
                action="group.deleted",
                actor=Actor.system(),
                subject=group,
                person_id=group.person_id,
                payload={"group_id": group.upstream_id, "account_id": group.account_id},
            )


def _confirm_to_person(consent: Consent) -> None:
    person = consent.person
    if not person.email:
        return
    context = {"person": person, "project": consent.project, "studio": settings.STUDIO_NAME}
    with translation.override(person.language):
        subject = " ".join(
            render_to_string("verification/email/destroyed_subject.txt", context).split()
        )
        body = render_to_string("verification/email/destroyed.txt", context)
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[person.email])
    except (smtplib.SMTPException, OSError) as error:
        logger.warning(
            "could not confirm destruction to person %s: %s", person.pk, type(error).__name__
        )


def withdrawn_not_destroyed(*, now: datetime | None = None) -> list[int]:
    """Withdrawn consents whose destruction has not finished: the sweep retries them."""
    now = now or timezone.now()
    return list(
        Consent.objects.filter(
            withdrawn_at__lt=now - timedelta(minutes=5), destroyed_at__isnull=True
        ).values_list("pk", flat=True)[:200]
    )

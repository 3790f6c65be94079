"""People with live links and verified sessions, made directly (no upstream call), for the
security sweeps and the fuzz suite."""

from dataclasses import dataclass
from datetime import timedelta

from django.test import RequestFactory
from django.utils import timezone

from assets.models import Asset, AssetGroup
from verification import services
from verification.models import AuthorizingPerson, LivenessAttempt, VerificationSession

Status = VerificationSession.Status


@dataclass(frozen=True)
class Verified:
    """One verified person as their link and the rows behind it."""

    token: str
    person: AuthorizingPerson
    session: VerificationSession
    group: AssetGroup
    asset: Asset
    attempt: LivenessAttempt


def make_invited(
    name, *, account, project, consent_text, staff_user
) -> tuple[str, VerificationSession]:
    """A person with a live link they have not used yet; returns (token, session)."""
    person = AuthorizingPerson.objects.create(
        full_name=name, email=f"{name.split()[0].lower()}@example.com", created_by=staff_user
    )
    session = services.start_session(
        person=person,
        account_id=account.pk,
        project=project,
        consent_text=consent_text,
        media_kinds=["image", "video", "audio"],
        channel="in_person",
        user=staff_user,
    )
    link = services.show_link(session=session, user=staff_user)
    return link.rstrip("/").rsplit("/", 1)[-1], session


def make_verified(name, *, account, project, consent_text, staff_user) -> Verified:
    """A person with a live link, a consent to every kind, a verified session, a group, one asset
    the upstream is processing and one liveness attempt. No upstream call is made."""
    token, session = make_invited(
        name, account=account, project=project, consent_text=consent_text, staff_user=staff_user
    )
    person = session.person
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="pytest")
    consent = services.give_consent(session=session, signature_name=name, request=request)
    now = timezone.now()
    slug = name.split()[0].lower()
    attempt = LivenessAttempt.objects.create(
        session=session,
        ref=f"ref-{slug}-0123456789abcdef0123456789",
        byted_token=f"byted-{slug}-token",
        byted_token_hash=f"{len(slug):064d}",
        h5_expires_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    session.move(Status.CONSENTED, Status.VERIFIED, upstream_group_id=f"group-{slug}")
    group = AssetGroup.objects.create(
        upstream_id=f"group-{slug}", person=person, account=account, session=session
    )
    asset = Asset.objects.create(
        group=group,
        kind="image",
        status=Asset.Status.PROCESSING,
        original_name=f"{slug}.jpg",
        upstream_name=f"sitter-{slug}-0000",
        size_bytes=4,
        sha256="0" * 64,
        content_type="image/jpeg",
        consent=consent,
        upstream_id=f"asset-{slug}",
    )
    return Verified(token, person, session, group, asset, attempt)

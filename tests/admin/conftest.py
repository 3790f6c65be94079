import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP

from assets.models import Asset, AssetGroup
from ledger.services import Actor, record
from portal.models import EncryptedTOTPDevice as TOTPDevice
from upstream.models import Adapter, UpstreamAccount, UpstreamCall
from verification.models import (
    AuthorizingPerson,
    Consent,
    Invitation,
    LivenessAttempt,
    StaffNotice,
    VerificationSession,
)

STORED_TOKEN = "sk-stored-secret-token-0001"


@pytest.fixture
def plain_account(db) -> UpstreamAccount:
    """An account no test calls: for rows that only need one to point at."""
    return UpstreamAccount.objects.create(
        name="Studio Anyfast",
        adapter=Adapter.ANYFAST,
        base_url="https://upstream.invalid",
        api_token=STORED_TOKEN,
    )


def make_world(count, *, account, project, consent_text, user, start=0) -> list[AuthorizingPerson]:
    """`count` persons, each with a session, link, liveness attempt, consent, group, asset,
    upstream call, staff notice and ledger event: one of everything the admin lists."""
    now = timezone.now()
    persons = []
    for i in range(start, start + count):
        person = AuthorizingPerson.objects.create(
            full_name=f"Person {i}", email=f"person{i}@example.com", created_by=user
        )
        session = VerificationSession.objects.create(
            person=person,
            account=account,
            project=project,
            consent_text=consent_text,
            media_kinds=["image"],
            channel="email",
            status=VerificationSession.Status.VERIFIED,
            created_by=user,
            upstream_group_id=f"group-{i}",
        )
        Invitation.objects.create(
            session=session,
            channel="email",
            recipient=person.email,
            token_hash=f"{i:064x}",
            created_by=user,
            expires_at=now + timedelta(days=1),
        )
        LivenessAttempt.objects.create(
            session=session,
            ref=f"ref-{i:04d}-kept-out-of-sight-".ljust(43, "x"),
            byted_token=f"20260101000000{i:020X}",
            byted_token_hash=f"{i:064x}",
            h5_expires_at=now,
            expires_at=now,
            status=LivenessAttempt.Status.SUCCEEDED,
            group_id=f"group-{i}",
        )
        consent = Consent.objects.create(
            person=person,
            session=session,
            text=consent_text,
            text_sha256=consent_text.sha256,
            project=project,
            intended_use=project.intended_use,
            media_kinds=["image"],
            signature_name=person.full_name,
        )
        group = AssetGroup.objects.create(
            upstream_id=f"group-{i}", person=person, account=account, session=session
        )
        Asset.objects.create(
            group=group,
            kind="image",
            original_name=f"portrait-{i}.jpg",
            upstream_name=f"upload-{i}",
            size_bytes=1000,
            sha256=f"{i:064x}",
            consent=consent,
            upstream_id=f"asset-{i}",
            status=Asset.Status.ACTIVE,
        )
        UpstreamCall.objects.create(account=account, action="GetAsset", http_status=200)
        StaffNotice.objects.create(user=user, session=session, text=f"{person} is verified")
        record(
            action="person.created", actor=Actor.staff(user), subject=person, person_id=person.pk
        )
        persons.append(person)
    return persons


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(
        username="root", email="root@example.com", password="correct horse battery staple"
    )


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the person's authenticator app shows now (or `steps_ahead` periods later)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrolled_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


@pytest.fixture
def verified_admin(superuser, settings) -> Client:
    """A superuser signed in with password and authenticator app, as in production."""
    settings.TOTP_REQUIRED_FOR_ADMINS = True
    device = enrolled_device(superuser)
    client = Client()
    client.force_login(superuser)
    response = client.post("/login/code/", {"code": totp_code(device)})
    assert response.status_code == 302, response.content
    return client


@pytest.fixture(autouse=True)
def _second_factor_not_required(settings):
    """These tests sign superusers in with force_login, past the sign-in flow. The second-factor
    tests turn the requirement back on (test_two_factor.py, the `verified_admin` fixture)."""
    settings.TOTP_REQUIRED_FOR_ADMINS = False


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings):
    """Argon2 at production cost spends a third of a second per sign-in; these tests sign in
    dozens of times. (tests/portal/test_auth.py checks that production hashes with Argon2.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

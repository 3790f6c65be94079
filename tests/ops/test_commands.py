"""Management commands for running it for real: the first admin, encryption key rotation."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from upstream.models import Adapter, UpstreamAccount
from verification.models import LivenessAttempt

pytestmark = pytest.mark.django_db
PASSWORD = "a long and unusual passphrase 7"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- create_first_admin -------------------------------------------------------------------------


@pytest.fixture
def admin_env(monkeypatch):
    monkeypatch.setenv("FIRST_ADMIN_USERNAME", "owner")
    monkeypatch.setenv("FIRST_ADMIN_EMAIL", "owner@example.com")
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", PASSWORD)
    return monkeypatch


def test_it_creates_the_first_admin_from_the_environment_once(admin_env):
    assert "Created the admin 'owner'" in run("create_first_admin")
    owner = get_user_model().objects.get(username="owner")
    assert owner.is_superuser and owner.is_staff and owner.email == "owner@example.com"
    assert owner.check_password(PASSWORD) and owner.password.startswith("argon2")
    admin_env.setenv("FIRST_ADMIN_USERNAME", "someone-else")
    assert "already exists" in run("create_first_admin")
    assert get_user_model().objects.count() == 1


def test_the_password_may_come_from_a_file(admin_env, tmp_path):
    (tmp_path / "password").write_text(PASSWORD + "\n")
    admin_env.delenv("FIRST_ADMIN_PASSWORD")
    admin_env.setenv("FIRST_ADMIN_PASSWORD_FILE", str(tmp_path / "password"))
    run("create_first_admin")
    assert get_user_model().objects.get(username="owner").check_password(PASSWORD)


def test_a_weak_password_or_missing_variables_are_refused(admin_env):
    admin_env.setenv("FIRST_ADMIN_PASSWORD", "password1")
    with pytest.raises(CommandError, match="password is refused"):
        run("create_first_admin")
    admin_env.delenv("FIRST_ADMIN_PASSWORD")
    with pytest.raises(CommandError, match="Set FIRST_ADMIN_USERNAME and FIRST_ADMIN_PASSWORD"):
        run("create_first_admin")
    assert not get_user_model().objects.exists()


# --- rotate_encryption_key ----------------------------------------------------------------------


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


@pytest.fixture
def old_key(settings):
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


@pytest.fixture
def stored(old_key, session_for_attempt):
    account = UpstreamAccount.objects.create(
        name="BytePlus",
        adapter=Adapter.BYTEPLUS,
        base_url="https://ark.example",
        access_key_id="AKLT0001",
        secret_access_key="the-secret-access-key",
    )
    now = timezone.now()
    attempt = LivenessAttempt.objects.create(
        session=session_for_attempt,
        ref="r" * 43,
        byted_token="20260101000000ABCDEF0123456789ABCDEF",
        byted_token_hash="0" * 64,
        h5_expires_at=now,
        expires_at=now,
    )
    return account, attempt


@pytest.fixture
def session_for_attempt(person, plain_account, project, consent_text, staff_user):
    from verification.models import VerificationSession

    return VerificationSession.objects.create(
        person=person,
        account=plain_account,
        project=project,
        consent_text=consent_text,
        channel="email",
        created_by=staff_user,
    )


def test_rotation_re_encrypts_every_stored_secret_so_the_old_key_can_go(settings, old_key, stored):
    account, attempt = stored
    before = raw("upstream_upstreamaccount", "secret_access_key", account.pk)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    with pytest.raises(CommandError, match="can't be read with the newest key alone"):
        run("rotate_encryption_key", "--check")
    out = run("rotate_encryption_key")
    assert "Re-encrypted" in out and "older key(s) can now be removed" in out
    assert raw("upstream_upstreamaccount", "secret_access_key", account.pk) != before
    assert "the-secret-access-key" not in raw(
        "upstream_upstreamaccount", "secret_access_key", account.pk
    )

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    account.refresh_from_db()
    attempt.refresh_from_db()
    assert account.secret_access_key == "the-secret-access-key"
    assert attempt.byted_token == "20260101000000ABCDEF0123456789ABCDEF"
    assert "Every stored secret reads with the newest key" in run(
        "rotate_encryption_key", "--check"
    )


def test_rotation_stops_when_a_value_needs_a_key_no_longer_configured(settings, stored):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="can't be decrypted with any configured key"):
        run("rotate_encryption_key")

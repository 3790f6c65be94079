"""Authenticator app secrets are stored encrypted, rotate with the other secrets, and devices
enrolled before the change are carried over encrypted."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from portal.models import EncryptedTOTPDevice
from tests.admin.conftest import enrolled_device, totp_code

PASSWORD = "correct horse battery staple"


def stored_key(device: EncryptedTOTPDevice) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM portal_encryptedtotpdevice WHERE id = %s", [device.pk])
        return str(cursor.fetchone()[0])


def signs_in_with_the_app(user, device: EncryptedTOTPDevice) -> bool:
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    response = client.post("/login/code/", {"code": totp_code(device), "next": "/persons/"})
    return response.status_code == 302 and response["Location"] == "/persons/"


@pytest.mark.django_db
def test_the_secret_is_stored_encrypted_and_sign_in_still_works(staff_user, settings):
    settings.TOTP_REQUIRED_FOR_ADMINS = True
    device = enrolled_device(staff_user)
    raw = stored_key(device)
    assert len(device.key) == 40 and device.key not in raw
    assert Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode()).decrypt(raw.encode()).decode() == (
        device.key
    )
    assert signs_in_with_the_app(staff_user, device)


@pytest.mark.django_db
def test_key_rotation_covers_the_authenticator_secrets(staff_user, settings):
    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    device = enrolled_device(staff_user)
    before = stored_key(device)
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "portal_encryptedtotpdevice.key: 0 value(s) need an older key" in out.getvalue()
    assert stored_key(device) != before
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert signs_in_with_the_app(staff_user, device)


@pytest.mark.django_db(transaction=True)
def test_devices_enrolled_before_are_carried_over_encrypted(settings):
    executor = MigrationExecutor(connection)
    before = [("portal", "0001_initial")]
    executor.migrate(before)
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "portal"]
    old_apps = executor.loader.project_state([*before, *others]).apps
    user = old_apps.get_model("auth", "User").objects.create(username="ana", is_staff=True)
    plain = old_apps.get_model("otp_totp", "TOTPDevice").objects.create(
        user_id=user.pk, name="Authenticator app", confirmed=True, key="ab" * 20, last_t=7
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    device = EncryptedTOTPDevice.objects.get(user_id=user.pk)
    assert (device.key, device.confirmed, device.last_t) == ("ab" * 20, True, 7)
    assert "ab" * 20 not in stored_key(device)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM otp_totp_totpdevice WHERE id = %s", [plain.pk])
        assert cursor.fetchone()[0] == 0
    get_user_model().objects.filter(pk=user.pk).delete()

"""Lockout after repeated failed sign-ins, on the staff sign-in page and the admin's alike."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def attempt(client: Client, path: str, password: str, username: str = "staffer"):
    return client.post(path, {"username": username, "password": password})


@pytest.fixture(params=["/login/", "admin"])
def sign_in_path(request) -> str:
    return "/login/" if request.param == "/login/" else reverse("admin:login")


def test_five_wrong_passwords_lock_the_account_from_that_address(client, staff_user, sign_in_path):
    for _ in range(4):
        assert attempt(client, sign_in_path, "wrong").status_code == 200
    locked = attempt(client, sign_in_path, "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text and "30 minutes" in locked.text
    # Now even the right password is refused, with the same explanation.
    again = attempt(client, sign_in_path, PASSWORD)
    assert again.status_code == 429 and "Too many failed sign-ins" in again.text
    assert client.get("/").status_code == 302  # not signed in


def test_the_lock_is_per_username_and_address(client, staff_user):
    for _ in range(5):
        attempt(client, "/login/", "wrong")
    elsewhere = Client(REMOTE_ADDR="198.51.100.20")
    assert attempt(elsewhere, "/login/", PASSWORD).status_code == 302


def test_the_lock_lifts_after_the_cool_off(client, staff_user):
    for _ in range(5):
        attempt(client, "/login/", "wrong")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=31)):
        assert attempt(client, "/login/", PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_the_count(client, staff_user):
    for _ in range(4):
        attempt(client, "/login/", "wrong")
    assert attempt(client, "/login/", PASSWORD).status_code == 302
    client.post("/logout/")
    for _ in range(4):
        assert attempt(client, "/login/", "wrong").status_code == 200
    assert attempt(client, "/login/", PASSWORD).status_code == 302


def test_admins_see_and_lift_locks(client, staff_user, admin_client):
    for _ in range(5):
        attempt(client, "/login/", "wrong")
    listing = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "staffer" in listing.text
    AccessAttempt.objects.all().delete()  # what "delete selected" in that list does
    assert attempt(client, "/login/", PASSWORD).status_code == 302

"""Second factor: enrolment with a real TOTP code, the code after the password, who must have one."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from portal.models import EncryptedTOTPDevice as TOTPDevice
from tests.admin.conftest import enrolled_device, totp_code

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _required(settings):
    settings.TOTP_REQUIRED_FOR_ADMINS = True


def sign_in(client: Client, username: str, path: str = "/login/") -> None:
    response = client.post(path, {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content


def test_an_admin_without_an_app_must_enrol_before_any_staff_or_admin_page(client, superuser):
    sign_in(client, "root")
    for page in ("/", "/persons/", f"/{_admin()}", reverse("admin:ledger_auditevent_changelist")):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/account/two-step/?next=")


def test_enrolment_shows_a_qr_code_and_turns_on_with_a_right_code(client, superuser):
    sign_in(client, "root")
    page = client.get("/account/two-step/?next=/persons/")
    assert page.status_code == 200
    assert "<svg" in page.text and "must use a code" in page.text
    device = TOTPDevice.objects.get(user=superuser, confirmed=False)
    secret = re.search(r'<code class="breakable">([A-Z2-7=]+)</code>', page.text)
    assert secret and "Cache-Control" in page and "no-cache" in page["Cache-Control"]

    wrong = client.post("/account/two-step/", {"code": "000000", "next": "/persons/"})
    assert "That code is not right" in wrong.text
    assert not TOTPDevice.objects.filter(user=superuser, confirmed=True).exists()

    with later(2):  # past the one-second wait a wrong code earns
        right = client.post("/account/two-step/", {"code": totp_code(device), "next": "/persons/"})
    assert right.status_code == 302 and right["Location"] == "/persons/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/persons/").status_code == 200
    assert client.get(f"/{_admin()}").status_code == 200


def test_the_same_unconfirmed_device_is_shown_until_enrolment_finishes(client, superuser):
    sign_in(client, "root")
    first = client.get("/account/two-step/").text
    second = client.get("/account/two-step/").text
    assert _secret(first) == _secret(second)
    assert TOTPDevice.objects.filter(user=superuser).count() == 1


def test_an_enrolled_user_enters_a_code_after_the_password(client, staff_user):
    device = enrolled_device(staff_user)
    sign_in(client, "staffer")
    response = client.get("/persons/")
    assert response.status_code == 302
    assert response["Location"] == "/login/code/?next=%2Fpersons%2F"
    page = client.get(response["Location"])
    assert "Enter your code" in page.text
    response = client.post("/login/code/", {"code": totp_code(device), "next": "/persons/"})
    assert response == response and response.status_code == 302
    assert response["Location"] == "/persons/"
    assert client.get("/persons/").status_code == 200


def test_a_code_works_once(client, staff_user):
    device = enrolled_device(staff_user)
    code = totp_code(device)
    sign_in(client, "staffer")
    assert client.post("/login/code/", {"code": code}).status_code == 302
    client.post("/logout/")
    sign_in(client, "staffer")
    with later(2):
        replay = client.post("/login/code/", {"code": code})
    assert replay.status_code == 200 and "That code is not right" in replay.text


def test_wrong_codes_in_a_row_make_the_next_try_wait(client, staff_user):
    device = enrolled_device(staff_user)
    sign_in(client, "staffer")
    client.post("/login/code/", {"code": "111111"})
    response = client.post("/login/code/", {"code": totp_code(device)})
    assert "Too many wrong codes in a row. Wait 1 seconds" in response.text
    assert client.get("/persons/").status_code == 302


def test_staff_without_an_app_go_straight_in_and_may_enrol(client, staff_user):
    sign_in(client, "staffer")
    assert client.get("/persons/").status_code == 200
    page = client.get("/account/two-step/")
    assert page.status_code == 200 and "Optional for staff" in page.text


def test_the_admin_sign_in_page_also_leads_to_the_code(client, superuser):
    device = enrolled_device(superuser)
    admin_login = reverse("admin:login")
    sign_in(client, "root", path=f"{admin_login}?next=/{_admin()}")
    response = client.get(f"/{_admin()}")
    assert response["Location"].startswith("/login/code/")
    client.post("/login/code/", {"code": totp_code(device)})
    assert client.get(f"/{_admin()}").status_code == 200


def test_removing_the_app_takes_a_current_code(client, staff_user):
    device = enrolled_device(staff_user)
    sign_in(client, "staffer")
    client.post("/login/code/", {"code": totp_code(device)})
    page = client.get("/account/two-step/")
    assert "Two-step sign-in is on" in page.text
    with later(2):
        refused = client.post("/account/two-step/", {"code": "123456"})
    assert "That code is not right" in refused.text and TOTPDevice.objects.filter(pk=device.pk)
    with later(5):
        removed = client.post("/account/two-step/", {"code": totp_code(device, steps_ahead=1)})
    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(user=staff_user).exists()


def test_person_pages_and_probes_are_never_held_back(client, superuser):
    sign_in(client, "root")
    assert client.get("/healthz").status_code == 200
    assert client.get("/p/not-a-real-token-at-all/").status_code != 302


def test_an_open_redirect_is_not_followed_after_the_code(client, staff_user):
    device = enrolled_device(staff_user)
    sign_in(client, "staffer")
    response = client.post(
        "/login/code/", {"code": totp_code(device), "next": "https://evil.test/"}
    )
    assert response["Location"] == "/"


def test_the_admin_lists_devices_without_their_secrets(superuser):
    device = enrolled_device(get_user_model().objects.get(username="root"))
    client = Client()
    client.force_login(superuser)
    client.post("/login/code/", {"code": totp_code(device)})
    page = client.get(reverse("admin:portal_encryptedtotpdevice_change", args=[device.pk]))
    assert page.status_code == 200
    assert device.key not in page.text


def later(seconds: float):
    """The clock moved on by `seconds` (and still ticking)."""
    return time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds), tick=True)


def _admin() -> str:
    from django.conf import settings

    return settings.ADMIN_PATH


def _secret(html: str) -> str:
    match = re.search(r'<code class="breakable">([A-Z2-7=]+)</code>', html)
    assert match
    return match.group(1)

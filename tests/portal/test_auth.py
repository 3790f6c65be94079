import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_the_dashboard_asks_for_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_staff_sign_in_and_out(client, staff_user):
    page = client.get("/login/")
    assert b"Sign in" in page.content
    response = client.post(
        "/login/", {"username": "staffer", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_in_words(client, staff_user):
    response = client.post("/login/", {"username": "staffer", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_passwords_are_hashed_with_argon2(staff_user):
    assert staff_user.password.startswith("argon2")


def test_admin_lives_at_the_configured_path(staff_client):
    assert staff_client.get(f"/{settings.ADMIN_PATH}").status_code in (200, 302)


def test_pages_carry_a_nonce_based_content_security_policy(client):
    response = client.get("/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"

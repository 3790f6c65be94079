"""The client address behind the proxy, forwarded headers only from the proxy, no page cached,
and the deployment defaults that go with them (issue 12)."""

import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import Client, RequestFactory

from ledger.models import AuditEvent
from portal.clients import client_ip
from portal.logging import GunicornLogger
from tests.security.people import make_invited

ROOT = Path(__file__).parents[2]
PROXY = "127.0.0.1"
PASSWORD = "correct horse battery staple"  # the staff_user fixture's


def forwarded(client_address: str) -> Client:
    """A browser at `client_address`, seen through one reverse proxy on this host."""
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_address)


@pytest.fixture
def alice_link(account, project, consent_text, staff_user):
    return make_invited(
        "Alice Example",
        account=account,
        project=project,
        consent_text=consent_text,
        staff_user=staff_user,
    )


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.FORWARDED_ALLOW_IPS = [PROXY, "::1"]
    return settings


def test_forwarded_for_counts_only_from_the_proxy(behind_proxy):
    factory = RequestFactory()
    via_proxy = factory.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert client_ip(via_proxy) == "198.51.100.9"
    direct = factory.get("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert client_ip(direct) == "203.0.113.5"
    behind_proxy.FORWARDED_ALLOW_IPS = ["10.0.0.0/8"]
    from_network = factory.get("/", REMOTE_ADDR="10.2.3.4", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert client_ip(from_network) == "192.0.2.1"


@pytest.mark.django_db
def test_a_direct_client_cannot_claim_https_or_another_address(behind_proxy, client):
    seen = {}

    def spy(request):
        seen["secure"] = request.is_secure()
        seen["forwarded"] = request.META.get("HTTP_X_FORWARDED_FOR")
        from django.http import HttpResponse

        return HttpResponse()

    from portal.middleware import ForwardedHeadersMiddleware

    request = RequestFactory().get(
        "/",
        REMOTE_ADDR="203.0.113.5",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
        HTTP_X_FORWARDED_PROTO="https",
    )
    behind_proxy.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    ForwardedHeadersMiddleware(spy)(request)
    assert seen == {"secure": False, "forwarded": None}


@pytest.mark.django_db
def test_bad_links_from_one_client_behind_the_proxy_lock_out_only_that_client(
    behind_proxy, alice_link
):
    token, _ = alice_link
    prober = forwarded("198.51.100.66")
    for n in range(behind_proxy.LINK_FAILURES_ALLOWED):
        assert prober.get(f"/p/wrong-token-{n:04d}-abcdefghijklmnop/").status_code == 404
    assert prober.get(f"/p/{token}/").status_code == 429
    # Everyone else comes through the same proxy and still reaches their own link.
    assert forwarded("203.0.113.7").get(f"/p/{token}/").status_code == 200


@pytest.mark.django_db
def test_consent_evidence_keeps_the_clients_address_not_the_proxys(behind_proxy, alice_link):
    token, session = alice_link
    phone = forwarded("198.51.100.23")
    phone.get(f"/p/{token}/")
    name = session.person.full_name
    response = phone.post(f"/p/{token}/consent/", {"signature_name": name, "agree": "on"})
    assert response.status_code == 302, response.content.decode()
    consent = session.consents.get()
    assert consent.ip == "198.51.100.23"
    assert AuditEvent.objects.get(action="consent.given").ip == "198.51.100.23"


@pytest.mark.django_db
def test_sign_in_lockout_counts_the_client_behind_the_proxy(behind_proxy, staff_user):
    attacker = forwarded("198.51.100.50")
    for _ in range(behind_proxy.AXES_FAILURE_LIMIT):
        attacker.post("/login/", {"username": staff_user.username, "password": "wrong" * 4})
    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.50"}
    # The real staff member, elsewhere behind the same proxy, still signs in.
    elsewhere = forwarded("203.0.113.80")
    response = elsewhere.post("/login/", {"username": staff_user.username, "password": PASSWORD})
    assert response.status_code == 302


def test_the_access_log_names_the_client_not_the_proxy(behind_proxy):
    from gunicorn.config import Config

    logger = GunicornLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": PROXY,
        "HTTP_X_FORWARDED_FOR": "198.51.100.77",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    atoms = logger.atoms(response, SimpleNamespace(headers=[]), environ, timedelta(0))
    assert atoms["h"] == "198.51.100.77"


@pytest.mark.django_db
def test_staff_pages_are_never_stored(staff_client):
    for path in ("/", "/persons/", "/persons/new/"):
        response = staff_client.get(path)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"], path
    assert "no-store" in Client().get("/login/")["Cache-Control"]


def test_compose_publishes_on_the_loopback_only_and_trusts_its_gateway():
    compose = (ROOT / "docker-compose.yml").read_text()
    ports = re.findall(r'^\s+- "([^"]+:8000)"$', compose, flags=re.M)
    assert ports == ["127.0.0.1:8000:8000"]
    assert "FORWARDED_ALLOW_IPS: ${FORWARDED_ALLOW_IPS:-172.30.232.1}" in compose
    assert "gateway: ${SITTER_GATEWAY:-172.30.232.1}" in compose
    conf = (ROOT / "gunicorn.conf.py").read_text()
    assert 'forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS"' in conf


def test_a_mistyped_proxy_address_is_caught_by_the_system_check(settings):
    from portal.checks import forwarded_allow_ips_check

    assert forwarded_allow_ips_check() == []
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1", "proxy.example"]
    [error] = forwarded_allow_ips_check()
    assert error.id == "sitter.E010" and "proxy.example" in error.msg

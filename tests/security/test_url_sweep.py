"""Every URL the project serves, checked against the access rule it declares in `ACCESS`.

A new URL pattern fails `test_every_url_pattern_declares_its_access` until it is added to the
table: a feature states who may reach it before it ships. Admin URLs follow Django admin's own rule
(staff, else the admin login) and are checked one by one, so a custom admin view that forgets
`admin_site.admin_view` is caught too.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from functools import partial
from urllib.parse import urlsplit

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from assets import services as asset_services
from assets.models import Asset
from ledger.models import AuditEvent
from tests.security.people import Verified
from verification.models import AuthorizingPerson, Consent, VerificationSession

pytestmark = pytest.mark.django_db


class Access(Enum):
    PUBLIC = "anyone"
    SIGNED_IN = "any signed-in user (their own account); anonymous visitors go to the login"
    METRICS = "a bearer key (METRICS_KEY); without one configured the URL does not exist"
    STAFF = "signed-in staff; others are sent to the login (anonymous) or refused (403)"
    ADMIN = "Django admin: staff, else the admin login"
    LINK = "the person's link token is the key; a wrong one gets 404, a dead one 410"
    LINK_OBJECT = "the link token, and only objects under that token's own session"
    CALLBACK = "the attempt's unguessable ref is the key"
    CALLBACK_BROWSER = "the ref, from the browser that opened the link (else 403)"
    SIGNED = "a signed, expiring token naming one asset in flight"
    API_KEY = "an API key with the operation's scope (Authorization: Bearer); else 401 or 403"


# Who may reach each URL. Add every new URL name here.
ACCESS: dict[str, Access] = {
    "dashboard": Access.STAFF,
    "healthz": Access.PUBLIC,
    "favicon": Access.PUBLIC,
    "readyz": Access.PUBLIC,
    "login": Access.PUBLIC,
    "logout": Access.PUBLIC,
    "two_factor_verify": Access.SIGNED_IN,
    "two_factor_setup": Access.SIGNED_IN,
    "metrics": Access.METRICS,
    "admin:login": Access.PUBLIC,
    "admin:logout": Access.PUBLIC,
    "staff:persons": Access.STAFF,
    "staff:person_create": Access.STAFF,
    "staff:person": Access.STAFF,
    "staff:person_edit": Access.STAFF,
    "staff:session_start": Access.STAFF,
    "staff:session": Access.STAFF,
    "staff:session_status": Access.STAFF,
    "staff:session_resend": Access.STAFF,
    "staff:session_show_link": Access.STAFF,
    "staff:session_link": Access.STAFF,
    "staff:session_link_choice": Access.STAFF,
    "staff:session_cancel": Access.STAFF,
    "staff:consent_withdraw": Access.STAFF,
    "staff:outbox": Access.STAFF,
    "person:link": Access.LINK,
    "person:consent": Access.LINK,
    "person:start": Access.LINK,
    "person:consent_code": Access.LINK,
    "person:consent_code_resend": Access.LINK,
    "person:withdraw": Access.LINK,
    "person:renew": Access.LINK,
    "person:receipt_json": Access.LINK,
    "person:receipt_pdf": Access.LINK,
    "person:callback": Access.CALLBACK,
    "person:retry": Access.CALLBACK_BROWSER,
    "person:studio_style": Access.PUBLIC,
    "assets:group": Access.STAFF,
    "assets:group_assets": Access.STAFF,
    "assets:upload": Access.STAFF,
    "assets:asset_status": Access.STAFF,
    "assets:asset_delete": Access.STAFF,
    "person_assets:upload": Access.LINK,
    "person_assets:asset_status": Access.LINK_OBJECT,
    "person_assets:asset_dismiss": Access.LINK_OBJECT,
    "fetch:fetch": Access.SIGNED,
    # The public API (integrations/api): its schema is public, its docs page for staff.
    "api-v1:openapi-json": Access.PUBLIC,
    "api-v1:api-root": Access.PUBLIC,
    "api-docs": Access.ADMIN,
    "api-unknown": Access.PUBLIC,
    "api-v1:list_persons": Access.API_KEY,
    "api-v1:create_person": Access.API_KEY,
    "api-v1:get_person": Access.API_KEY,
    "api-v1:create_session": Access.API_KEY,
    "api-v1:list_sessions": Access.API_KEY,
    "api-v1:get_session": Access.API_KEY,
    "api-v1:cancel_session": Access.API_KEY,
    "api-v1:new_link": Access.API_KEY,
    "api-v1:list_consents": Access.API_KEY,
    "api-v1:get_consent": Access.API_KEY,
    "api-v1:list_projects": Access.API_KEY,
    "api-v1:list_consent_texts": Access.API_KEY,
    "api-v1:list_groups": Access.API_KEY,
    "api-v1:get_group": Access.API_KEY,
    "api-v1:list_assets": Access.API_KEY,
    "api-v1:get_asset": Access.API_KEY,
    "api-v1:delete_asset": Access.API_KEY,
    "api-v1:upload_asset": Access.API_KEY,
    "api-v1:create_clearance": Access.API_KEY,
    "api-v1:get_clearance": Access.API_KEY,
    "api-v1:list_endpoints": Access.API_KEY,
    "api-v1:add_endpoint": Access.API_KEY,
    "api-v1:rotate": Access.API_KEY,
    "api-v1:remove_endpoint": Access.API_KEY,
}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"; unnamed admin patterns are named by their route
    route: str  # the full route or regex, as written
    regex: bool

    @property
    def access(self) -> Access | None:
        if self.name in ACCESS:
            return ACCESS[self.name]
        if self.name.startswith("admin:"):
            return Access.ADMIN
        return None


def walk(
    resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[Route]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        text = str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from walk(entry, prefix + text, inner)
        elif isinstance(entry, URLPattern):
            full = prefix + text
            name = f"{namespace}:{entry.name}" if namespace else str(entry.name)
            if entry.name is None:
                name = f"{namespace}:<{full}>" if namespace else f"<{full}>"
            regex = not hasattr(entry.pattern, "converters") or "(?P<" in text
            yield Route(name, full, regex)


ROUTES = list(walk())


def test_api_operations_refuse_requests_without_a_key(world, client):
    for route in routes(Access.API_KEY):
        path = world.path(route)
        answers = {client.generic(method, path).status_code for method in ("GET", "POST", "DELETE")}
        assert 401 in answers and answers <= {401, 405}, (route.name, answers)


def test_every_url_pattern_declares_its_access():
    undeclared = [f"{r.name}  ({r.route})" for r in ROUTES if r.access is None]
    assert not undeclared, (
        "These URL patterns have no access rule. Add each to ACCESS in "
        "tests/security/test_url_sweep.py (and make its view enforce it):\n  "
        + "\n  ".join(undeclared)
    )
    stale = set(ACCESS) - {r.name for r in ROUTES}
    assert not stale, f"ACCESS names URLs that no longer exist: {sorted(stale)}"


# --- Filling the patterns with real ids --------------------------------------------------------


@dataclass
class World:
    alice: Verified
    bob: Verified

    def value(self, route: Route, key: str) -> str:
        a = self.alice
        if key == "pk":
            if route.name.startswith("staff:consent"):
                return str(a.asset.consent_id)
            if route.name.startswith(("staff:person", "staff:session_start")):
                return str(a.person.pk)
            if route.name.startswith("staff:session"):
                return str(a.session.pk)
            if route.name.startswith("assets:asset") or route.name.endswith("asset_status"):
                return str(a.asset.pk)
            return str(a.group.pk)
        if key == "token":
            return a.token
        if key == "ref":
            return a.attempt.ref
        if key == "signed":
            return urlsplit(asset_services.fetch_url(a.asset)).path.split("/")[-2]
        if key == "object_id":
            return self.admin_object_id(route)
        if key in ("id",):
            return str(a.person.created_by_id)
        if key == "content_type_id":
            return str(ContentType.objects.get_for_model(AuthorizingPerson).pk)
        if key == "app_label":
            return "verification"
        if key == "url":
            return "no-such-page/"
        if key == "rest":
            return "no-such-thing"
        if route.name.startswith("api-v1:") and key.endswith("_id"):
            return f"{key.removesuffix('_id')[:3]}_{a.person.pk}"
        raise AssertionError(f"no value for <{key}> in {route.name}; teach World.value")

    def admin_object_id(self, route: Route) -> str:
        if route.route.startswith(settings.ADMIN_PATH + "r/"):
            return str(self.alice.person.pk)
        app_label, model_name = route.route.removeprefix(settings.ADMIN_PATH).split("/")[:2]
        row = apps.get_model(app_label, model_name)._default_manager.order_by("pk").first()
        return str(row.pk if row is not None else 1)

    def path(self, route: Route) -> str:
        def fill(match: re.Match[str]) -> str:
            return self.value(route, match.group("key"))

        if route.regex:
            text = re.sub(r"\(\?P<(?P<key>\w+)>[^)]*\)", fill, route.route)
            text = text.replace("^", "").replace("$", "")
        else:
            text = re.sub(r"<(?:\w+:)?(?P<key>\w+)>", fill, route.route)
        return "/" + text


@pytest.fixture
def world(alice, bob) -> World:
    return World(alice, bob)


def routes(*kinds: Access) -> list[Route]:
    return [r for r in ROUTES if r.access in kinds]


def login_redirect(response, login: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(login + "?next=")


# --- Staff and admin pages ---------------------------------------------------------------------


def test_staff_pages_send_anonymous_visitors_to_the_login(world, client):
    wrong = []
    for route in routes(Access.STAFF):
        path = world.path(route)
        for method in (client.get, client.post):
            response = method(path)
            if not login_redirect(response, "/login/"):
                wrong.append(f"{method.__name__.upper()} {path} → {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_staff_pages_refuse_signed_in_non_staff(world, member_client):
    wrong = []
    for route in routes(Access.STAFF):
        path = world.path(route)
        for method in (member_client.get, member_client.post):
            response = method(path)
            if response.status_code != 403:
                wrong.append(f"{method.__name__.upper()} {path} → {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert not Asset.objects.filter(status=Asset.Status.DELETED).exists()
    assert not VerificationSession.objects.filter(status="cancelled").exists()


def test_staff_pages_open_for_staff_with_the_sweeps_ids(world, staff_client, settings, tmp_path):
    """The ids the sweep fills in are real: staff get each page (or 405 for POST-only ones)."""
    settings.DEBUG = True  # the development outbox exists only then
    settings.OUTBOX_DIR = tmp_path
    wrong = []
    for route in routes(Access.STAFF):
        path = world.path(route)
        response = staff_client.get(path)
        if response.status_code not in (200, 302, 405):
            wrong.append(f"GET {path} → {response.status_code}")
        if response.status_code == 302 and response["Location"].startswith("/login/"):
            wrong.append(f"GET {path} → login")
    assert not wrong, "\n".join(wrong)


def test_account_pages_send_anonymous_visitors_to_the_login(world, client):
    wrong = []
    for route in routes(Access.SIGNED_IN):
        path = world.path(route)
        for method in (client.get, client.post):
            response = method(path)
            if not login_redirect(response, "/login/"):
                wrong.append(f"{method.__name__.upper()} {path} → {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_metrics_need_the_key(world, client, settings):
    (route,) = routes(Access.METRICS)
    path = world.path(route)
    settings.METRICS_KEY = ""
    assert client.get(path).status_code == 404
    settings.METRICS_KEY = "k" * 32
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer " + "j" * 32}).status_code == 401
    assert client.get(path, headers={"Authorization": "Basic " + "k" * 32}).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer " + "k" * 32}).status_code == 200


def test_admin_pages_require_staff(world, client, member_client, admin_client):
    login = "/" + settings.ADMIN_PATH + "login/"
    wrong = []
    for route in routes(Access.ADMIN):
        path = world.path(route)
        for who, visitor in (("anonymous", client), ("non-staff", member_client)):
            response = visitor.get(path)
            if not login_redirect(response, login):
                wrong.append(f"{who} GET {path} → {response.status_code}")
        if admin_client.get(path).status_code >= 500:
            wrong.append(f"superuser GET {path} → 5xx")
    assert not wrong, "\n".join(wrong)


# --- CSRF ----------------------------------------------------------------------------------------


def realistic_body(route: Route, world: World, media) -> dict[str, object]:
    """What a genuine form would send, so only the missing CSRF token stands in the way."""
    if route.name in ("assets:upload", "person_assets:upload"):
        return {"files": media.image((800, 1000)).open("rb")}
    if route.name == "person:consent":
        return {"signature_name": world.alice.person.full_name, "agree": "on"}
    if route.name in ("staff:person_create", "staff:person_edit"):
        return {"full_name": "Mallory", "email": "m@example.com", "language": "en"}
    if route.name == "staff:session_start":
        session = world.alice.session
        return {
            "account": session.account_id,
            "project": session.project_id,
            "consent_text": session.consent_text_id,
            "media_kinds": ["image"],
            "channel": "in_person",
        }
    if route.name in ("login", "admin:login"):
        return {"username": "staffer", "password": "correct horse battery staple"}
    return {}


def test_every_post_without_a_csrf_token_is_refused(world, staff_user, media):
    """Signed in as staff (the strongest position a forged cross-site form could borrow)."""
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(staff_user)
    counts = lambda: (  # noqa: E731
        AuthorizingPerson.objects.count(),
        VerificationSession.objects.count(),
        Consent.objects.count(),
        Asset.objects.exclude(status=Asset.Status.DELETED).count(),
        AuditEvent.objects.count(),
    )
    before = counts()
    wrong = []
    for route in ROUTES:
        path = world.path(route)
        response = guarded.post(path, realistic_body(route, world, media))
        if route.access == Access.API_KEY:
            # The API takes no cookies: a signed-in browser is no one there.
            if response.status_code not in (401, 405):
                wrong.append(f"POST {path} → {response.status_code}")
        elif response.status_code != 403 or b"CSRF" not in response.content:
            wrong.append(f"POST {path} → {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert counts() == before


def test_a_consent_from_another_origin_is_refused(carol):
    token, session = carol
    phone = Client(enforce_csrf_checks=True)
    assert phone.get(f"/p/{token}/").status_code == 200
    response = phone.post(
        f"/p/{token}/consent/",
        {
            "signature_name": "Carol Example",
            "agree": "on",
            "csrfmiddlewaretoken": phone.cookies["csrftoken"].value,
        },
        headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"},
    )
    assert response.status_code == 403
    assert not Consent.objects.filter(session=session).exists()


# --- The person's link is the key, and only to their own things -------------------------------


def test_person_urls_refuse_made_up_keys(world, client):
    fake = World(world.alice, world.bob)
    wrong = []
    for route in routes(Access.LINK, Access.LINK_OBJECT, Access.CALLBACK, Access.CALLBACK_BROWSER):
        path = re.sub(
            r"<(?:\w+:)?(?P<key>\w+)>", partial(_made_up, world=fake, route=route), route.route
        )
        for method in (client.get, client.post):
            response = method("/" + path)
            if response.status_code not in (404, 405, 429):
                wrong.append(f"{method.__name__.upper()} /{path} → {response.status_code}")
    assert not wrong, "\n".join(wrong)


def _made_up(match: re.Match[str], *, world: World, route: Route) -> str:
    key = match.group("key")
    if key in ("token", "ref"):
        return "x" * 43
    return world.value(route, key)


def test_a_link_token_sees_only_its_own_assets(world, client):
    alice, bob = world.alice, world.bob
    own = client.get(f"/p/{alice.token}/assets/{alice.asset.pk}/status/")
    assert own.status_code == 200 and own.json()["id"] == alice.asset.pk
    assert client.get(f"/p/{alice.token}/assets/{bob.asset.pk}/status/").status_code == 404
    assert client.get(f"/p/{bob.token}/assets/{alice.asset.pk}/status/").status_code == 404


def test_a_link_token_uploads_only_into_its_own_group(world, client, media):
    with media.wav(3.0).open("rb") as handle:
        response = client.post(
            f"/p/{world.alice.token}/upload/",
            {"files": handle},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 201, response.content
    asset = Asset.objects.get(pk=response.json()["assets"][0]["id"])
    assert asset.group == world.alice.group and asset.uploaded_by_person
    assert asset.status == Asset.Status.VALIDATED
    assert not world.bob.group.assets.exclude(pk=world.bob.asset.pk).exists()


def test_a_browser_cannot_retry_another_persons_attempt(world, client):
    assert client.get(f"/p/{world.alice.token}/").status_code == 200  # this browser is Alice's
    before = world.bob.session.attempts.count()
    response = client.post(f"/verified/{world.bob.attempt.ref}/retry/")
    assert response.status_code == 403
    assert world.bob.session.attempts.count() == before


@pytest.mark.parametrize("state", ["revoked", "expired", "cancelled"])
def test_a_dead_link_neither_shows_nor_acts(carol, client, state):
    token, session = carol
    invitations = session.invitations.all()
    if state == "revoked":
        invitations.update(revoked_at=timezone.now())
    elif state == "expired":
        invitations.update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        VerificationSession.objects.filter(pk=session.pk).update(status="cancelled")
    assert client.get(f"/p/{token}/").status_code == 410
    consent = {"signature_name": "Carol Example", "agree": "on"}
    assert client.post(f"/p/{token}/consent/", consent).status_code == 410
    assert client.post(f"/p/{token}/start/").status_code == 410
    assert client.post(f"/p/{token}/upload/").status_code == 410
    assert not Consent.objects.filter(session=session).exists()
    assert not session.attempts.exists()


# --- The upstream's download link --------------------------------------------------------------


@pytest.fixture
def fetchable(world) -> Asset:
    """Alice's asset in flight, with the stored copy the upstream would download."""
    asset = world.alice.asset
    asset.file.save(f"{asset.upstream_name}.jpg", ContentFile(b"\xff\xd8\xff\xd9"))
    return asset


def signed_path(payload: dict[str, object], *, salt: str = asset_services.FETCH_SALT) -> str:
    return f"/fetch/{signing.dumps(payload, salt=salt)}/"


def test_the_fetch_link_works_only_as_signed_for_its_asset(world, fetchable, client):
    genuine = urlsplit(asset_services.fetch_url(fetchable)).path
    assert client.get(genuine).status_code == 200
    other = world.bob.asset
    refused = {
        "forged signature": genuine[:-6] + ("A" if genuine[-6] != "A" else "B") + genuine[-5:],
        "another asset's name": signed_path({"asset": fetchable.pk, "name": other.upstream_name}),
        "another asset's id": signed_path({"asset": other.pk, "name": fetchable.upstream_name}),
        "another salt": signed_path(
            {"asset": fetchable.pk, "name": fetchable.upstream_name}, salt="other"
        ),
        "unsigned": f"/fetch/{fetchable.pk}/",
        "a path in the name": signed_path({"asset": fetchable.pk, "name": "../../etc/passwd"}),
    }
    wrong = {why: client.get(path).status_code for why, path in refused.items()}
    assert wrong == dict.fromkeys(refused, 404)


def test_the_fetch_link_expires_and_ends_with_the_upload(world, fetchable, client, settings):
    genuine = urlsplit(asset_services.fetch_url(fetchable)).path
    later = timezone.now() + settings.ASSET_FETCH_TTL + timedelta(seconds=5)
    with time_machine.travel(later):
        assert client.get(genuine).status_code == 404
    Asset.objects.filter(pk=fetchable.pk).update(status=Asset.Status.ACTIVE)
    assert client.get(genuine).status_code == 404

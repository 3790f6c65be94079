"""The permission matrix: every staff URL and every admin list, form and action, per role.

Staff URLs come from walking the URL resolver (the sweep's `ROUTES`), admin actions from every
registered ModelAdmin: a new URL or action fails here until this table says which roles may use
it. "No role" is an `is_staff` account in no group: it sees the explanatory 403 page everywhere.
"""

from collections.abc import Iterator

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from assets.models import Asset
from ledger.models import AuditEvent
from portal.roles import ADMINISTRATOR, COORDINATOR, PERMISSIONS, REVIEWER
from tests.conftest import make_staff
from tests.security.test_url_sweep import Access, World, routes
from verification.models import Consent, VerificationSession

pytestmark = pytest.mark.django_db

NONE = "no role"
ROLES = (NONE, COORDINATOR, REVIEWER, ADMINISTRATOR)
EVERY_ROLE = frozenset({COORDINATOR, REVIEWER, ADMINISTRATOR})
WORKERS = frozenset({COORDINATOR, ADMINISTRATOR})
ADMINS = frozenset({ADMINISTRATOR})
READERS = frozenset({REVIEWER, ADMINISTRATOR})
NOBODY: frozenset[str] = frozenset()

# Who may use each staff URL (GET and POST alike).
STAFF_URLS: dict[str, frozenset[str]] = {
    "dashboard": EVERY_ROLE,
    "staff:persons": EVERY_ROLE,
    "staff:person": EVERY_ROLE,
    "staff:person_create": WORKERS,
    "staff:person_edit": WORKERS,
    "staff:session_start": WORKERS,
    "staff:session": EVERY_ROLE,
    "staff:session_status": EVERY_ROLE,
    "staff:session_resend": WORKERS,
    "staff:session_show_link": WORKERS,
    "staff:session_link_choice": WORKERS,
    "staff:session_link": WORKERS,
    "staff:outbox": WORKERS,
    "staff:session_cancel": WORKERS,
    "staff:consent_withdraw": ADMINS,
    "assets:group": EVERY_ROLE,
    "assets:group_assets": EVERY_ROLE,
    "assets:upload": WORKERS,
    "assets:asset_status": EVERY_ROLE,
    "assets:asset_delete": ADMINS,
}

# Who sees each admin list (and a row's page); who may open its "add" form.
ADMIN_LISTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "auth.group": (ADMINS, NOBODY),
    "auth.user": (ADMINS, ADMINS),
    "axes.accessattempt": (ADMINS, NOBODY),
    "axes.accesslog": (ADMINS, NOBODY),
    "axes.accessfailurelog": (ADMINS, NOBODY),
    "portal.encryptedtotpdevice": (ADMINS, NOBODY),
    "portal.heartbeat": (READERS, NOBODY),
    "ledger.auditevent": (READERS, NOBODY),
    "ledger.ledgercheckpoint": (READERS, NOBODY),
    "ledger.ledgerhead": (READERS, NOBODY),
    "upstream.upstreamaccount": (READERS, ADMINS),
    "upstream.upstreamcall": (READERS, NOBODY),
    "verification.authorizingperson": (EVERY_ROLE, WORKERS),
    "verification.project": (EVERY_ROLE, ADMINS),
    "verification.consenttext": (EVERY_ROLE, ADMINS),
    "verification.verificationsession": (EVERY_ROLE, NOBODY),
    "verification.consent": (EVERY_ROLE, NOBODY),
    "verification.invitation": (EVERY_ROLE, NOBODY),
    "verification.livenessattempt": (EVERY_ROLE, NOBODY),
    "verification.staffnotice": (EVERY_ROLE, NOBODY),
    "verification.consentcode": (READERS, NOBODY),
    "assets.assetgroup": (EVERY_ROLE, NOBODY),
    "assets.asset": (EVERY_ROLE, NOBODY),
    "integrations.apikey": (READERS, ADMINS),
    "integrations.webhookendpoint": (READERS, ADMINS),
    "integrations.webhookdelivery": (READERS, NOBODY),
    "integrations.deliveryattempt": (READERS, NOBODY),
    "integrations.clearance": (READERS, NOBODY),
    "integrations.clearanceitem": (READERS, NOBODY),
}

EXPORTERS = READERS
# Who is offered each admin action. Actions a superuser alone sees are listed with NOBODY.
ADMIN_ACTIONS: dict[tuple[str, str], frozenset[str]] = {
    ("verification.verificationsession", "resend_invitation"): WORKERS,
    ("verification.verificationsession", "cancel"): WORKERS,
    ("verification.consent", "withdraw"): ADMINS,
    ("assets.asset", "delete_upstream"): ADMINS,
    ("assets.asset", "recheck_upstream"): WORKERS,
    ("upstream.upstreamaccount", "check_credentials"): ADMINS,
    ("integrations.apikey", "revoke"): ADMINS,
    ("integrations.webhookendpoint", "rotate"): ADMINS,
    ("integrations.webhookendpoint", "delete_selected"): NOBODY,
    ("integrations.webhookdelivery", "send_again"): ADMINS,
    ("axes.accessattempt", "cleanup_expired_attempts"): ADMINS,
    ("axes.accessattempt", "delete_selected"): ADMINS,
    ("portal.encryptedtotpdevice", "delete_selected"): ADMINS,
    ("verification.consenttext", "delete_selected"): ADMINS,
    ("auth.user", "delete_selected"): NOBODY,
    ("auth.group", "delete_selected"): NOBODY,
    ("axes.accesslog", "delete_selected"): NOBODY,
    ("axes.accessfailurelog", "delete_selected"): NOBODY,
    ("verification.staffnotice", "delete_selected"): NOBODY,
    ("verification.project", "delete_selected"): NOBODY,
    ("upstream.upstreamaccount", "delete_selected"): NOBODY,
    **{
        (label, "export_as_csv"): EXPORTERS
        for label in (
            "ledger.auditevent",
            "ledger.ledgercheckpoint",
            "upstream.upstreamaccount",
            "upstream.upstreamcall",
            "verification.authorizingperson",
            "verification.project",
            "verification.consenttext",
            "verification.verificationsession",
            "verification.consent",
            "verification.invitation",
            "verification.livenessattempt",
            "assets.assetgroup",
            "assets.asset",
        )
    },
}


def staff_for(role: str):
    return make_staff(f"staff-{role.replace(' ', '-')}", *([] if role == NONE else [role]))


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(alice, bob) -> World:
    return World(alice, bob)


def _state() -> tuple[int, ...]:
    return (
        AuditEvent.objects.count(),
        VerificationSession.objects.filter(status="cancelled").count(),
        Consent.objects.filter(withdrawn_at__isnull=False).count(),
        Asset.objects.filter(status=Asset.Status.DELETED).count(),
    )


def test_the_table_names_every_staff_url():
    staff = {route.name for route in routes(Access.STAFF)}
    assert staff == set(STAFF_URLS), (
        f"new staff URLs: {sorted(staff - set(STAFF_URLS))}; "
        f"gone: {sorted(set(STAFF_URLS) - staff)}: say in STAFF_URLS which roles may use them"
    )


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_staff_urls(world, role):
    client = client_for(staff_for(role))
    wrong = []
    for route in routes(Access.STAFF):
        allowed = role in STAFF_URLS[route.name]
        path = world.path(route)
        for method in ("get", "post"):
            before = _state()
            response = getattr(client, method)(path)
            status = response.status_code
            if allowed and (status == 403 or status >= 500):
                wrong.append(f"{role}: {method.upper()} {path} → {status}, expected allowed")
            if not allowed:
                if status != 403:
                    wrong.append(f"{role}: {method.upper()} {path} → {status}, expected 403")
                elif b"This page is not open to your account" not in response.content:
                    wrong.append(f"{role}: {method.upper()} {path} → 403 without the page")
                elif _state() != before:
                    wrong.append(f"{role}: {method.upper()} {path} refused but changed things")
    assert not wrong, "\n".join(wrong)


def test_a_staff_account_without_a_role_is_told_why(world):
    client = client_for(staff_for(NONE))
    page = client.get("/")
    assert page.status_code == 403
    assert b"has no role yet" in page.content and b"coordinator" in page.content
    # The admin lets it in, with nothing to see or do.
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert b"have permission to view or edit anything" in index.content


def _registered() -> Iterator[tuple[str, admin.ModelAdmin]]:
    for model, model_admin in admin.site._registry.items():
        yield model._meta.label_lower, model_admin


def test_the_tables_name_every_admin_list_and_action(superuser_request):
    lists = {label for label, _ in _registered()}
    assert lists == set(ADMIN_LISTS), f"admin lists not in ADMIN_LISTS: {lists ^ set(ADMIN_LISTS)}"
    actions = {
        (label, name)
        for label, model_admin in _registered()
        for name in model_admin.get_actions(superuser_request)
    }
    assert actions == set(ADMIN_ACTIONS), (
        f"admin actions not in ADMIN_ACTIONS: {sorted(actions - set(ADMIN_ACTIONS))}; "
        f"stale: {sorted(set(ADMIN_ACTIONS) - actions)}"
    )


@pytest.fixture
def superuser_request(db):
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.create_superuser(username="root", password="x" * 20)
    return request


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_offered_exactly_its_admin_actions(db, role):
    request = RequestFactory().get("/")
    request.user = staff_for(role)
    # An action is used from its list: on a list the role can't open, it is not offered at all.
    offered = {
        (label, name)
        for label, model_admin in _registered()
        if model_admin.has_view_or_change_permission(request)
        for name in model_admin.get_actions(request)
    }
    expected = {key for key, roles in ADMIN_ACTIONS.items() if role in roles}
    assert offered == expected


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_its_admin_lists_and_forms(world, role):
    client = client_for(staff_for(role))
    wrong = []
    for label, model_admin in _registered():
        viewers, adders = ADMIN_LISTS[label]
        app_label, model_name = label.split(".")
        name = f"admin:{app_label}_{model_name}"
        listing = client.get(reverse(f"{name}_changelist"))
        if (listing.status_code == 200) != (role in viewers) or listing.status_code not in (
            200,
            403,
        ):
            wrong.append(f"{role}: list of {label} → {listing.status_code}")
        adding = client.get(reverse(f"{name}_add"))
        if (adding.status_code == 200) != (role in adders):
            wrong.append(f"{role}: add {label} → {adding.status_code}")
        row = model_admin.model._default_manager.order_by("pk").first()
        if row is not None:
            page = client.get(reverse(f"{name}_change", args=[row.pk]))
            if (page.status_code == 200) != (role in viewers):
                wrong.append(f"{role}: row of {label} → {page.status_code}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", [COORDINATOR, REVIEWER])
def test_an_action_outside_the_role_does_nothing_when_posted_anyway(world, role):
    client = client_for(staff_for(role))
    asset, consent = world.alice.asset, world.alice.asset.consent
    before = _state()
    for model, action, pk in (
        ("assets_asset", "delete_upstream", asset.pk),
        ("verification_consent", "withdraw", consent.pk),
    ):
        client.post(
            reverse(f"admin:{model}_changelist"),
            {"action": action, "_selected_action": [pk], "confirmed": "yes", "reason": "x"},
        )
    assert _state() == before


def test_a_role_change_takes_effect_on_the_next_request(world):
    user = staff_for(REVIEWER)
    client = client_for(user)
    path = reverse("assets:asset_delete", args=[world.alice.asset.pk])
    assert client.get(path).status_code == 403
    user.groups.add(*type(user.groups.first()).objects.filter(name=ADMINISTRATOR))
    assert client.get(path).status_code == 200


def test_the_roles_are_what_the_migration_made():
    from django.contrib.auth.models import Group

    for role, permissions in PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == set(permissions), role


def test_pages_offer_only_the_buttons_the_role_may_press(world, carol):
    alice, (_, open_session) = world.alice, carol
    pages = {
        f"/groups/{alice.group.pk}/": (b"Delete\xe2\x80\xa6", b"Add files"),
        f"/sessions/{open_session.pk}/": (b"Cancel session\xe2\x80\xa6", b"Show QR code"),
        f"/persons/{alice.person.pk}/": (
            b"Withdraw on their behalf\xe2\x80\xa6",
            b"Start a verification",
            b">Edit<",
        ),
        "/persons/": (b"Add a person",),
    }
    offered = {}
    for role in (REVIEWER, COORDINATOR, ADMINISTRATOR):
        client = client_for(staff_for(role))
        offered[role] = {
            button.decode()
            for path, buttons in pages.items()
            for button in buttons
            if button in client.get(path).content
        }
    assert offered[REVIEWER] == set()
    working = {
        "Add files",
        "Cancel session…",
        "Show QR code",
        "Start a verification",
        ">Edit<",
        "Add a person",
    }
    assert offered[COORDINATOR] == working
    assert offered[ADMINISTRATOR] == {*working, "Delete…", "Withdraw on their behalf…"}


def test_an_administrator_gives_roles_but_makes_no_superuser(db):
    from django.contrib.auth.models import Group

    administrator = client_for(staff_for(ADMINISTRATOR))
    colleague = staff_for(NONE)
    url = reverse("admin:auth_user_change", args=[colleague.pk])
    form = administrator.get(url)
    assert form.status_code == 200 and 'name="is_superuser"' not in form.text
    joined = timezone.localtime(colleague.date_joined)
    response = administrator.post(
        url,
        {
            "username": colleague.username,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [Group.objects.get(name=COORDINATOR).pk],
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content
    colleague.refresh_from_db()
    assert list(colleague.groups.values_list("name", flat=True)) == [COORDINATOR]
    assert not colleague.is_superuser
    root = get_user_model().objects.create_superuser(username="root", password="x" * 20)
    root_url = reverse("admin:auth_user_change", args=[root.pk])
    assert 'name="username"' not in administrator.get(root_url).text  # read-only
    assert administrator.post(root_url, {"username": "mine"}).status_code == 403
    password = reverse("admin:auth_user_password_change", args=[root.pk])
    assert (
        administrator.post(password, {"password1": "y" * 20, "password2": "y" * 20}).status_code
        == 403
    )
    root.refresh_from_db()
    assert root.username == "root" and root.check_password("x" * 20)

"""Django admin under the portal's Content-Security-Policy: no violations, nothing broken."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_pages_raise_no_csp_violations(
    portal, django_user_model, person, account, project, consent_text, desktop, console_errors
):
    django_user_model.objects.create_superuser(
        "admin", "admin@example.com", "correct horse battery staple"
    )
    page = console_errors(desktop.new_page())
    page.goto(f"{portal.url}/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    admin = f"{portal.url}/{settings.ADMIN_PATH}"
    for path in (
        "",
        "verification/authorizingperson/",
        f"verification/authorizingperson/{person.pk}/change/",
        "verification/verificationsession/",
        "verification/consent/",
        "ledger/auditevent/",
        "upstream/upstreamaccount/",
        f"upstream/upstreamaccount/{account.pk}/change/",
        "assets/asset/",
    ):
        page.goto(admin + path)
        expect(page.locator("#content")).to_be_visible()
    # A changelist's action bar and filters run the admin's own scripts.
    page.goto(admin + "verification/authorizingperson/")
    page.locator("#action-toggle").check()
    ours = [error for error in console_errors.errors if error.startswith(portal.url)]
    assert ours == [], "\n".join(ours)

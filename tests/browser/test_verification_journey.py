"""The whole verification journey in Chromium: staff on a desktop, the person on a phone."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from verification.models import VerificationSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"(https?://[^\s]+/p/[A-Za-z0-9_-]+/)")


def test_staff_invite_by_email_and_the_person_verifies_on_a_phone(
    portal,
    worker,
    simulator,
    account,
    project,
    consent_text,
    staff_user,
    desktop,
    phone_browser,
    console_errors,
):
    staff = console_errors(desktop.new_page())
    staff.goto(f"{portal.url}/login/")
    staff.get_by_label("Username").fill("staffer")
    staff.get_by_label("Password").fill("correct horse battery staple")
    staff.get_by_role("button", name="Sign in").click()
    expect(staff.get_by_role("heading", name="Dashboard")).to_be_visible()

    staff.get_by_role("link", name="Add a person").first.click()
    staff.get_by_label("Full name").fill("Ada Lovelace")
    staff.get_by_label("Email").fill("ada@example.com")
    staff.get_by_role("button", name="Save").click()
    expect(staff.get_by_role("heading", name="Ada Lovelace")).to_be_visible()

    staff.get_by_role("link", name="Start a verification").click()
    staff.get_by_label("Upstream account").select_option(label=str(account))
    staff.get_by_label("Email").check()
    staff.get_by_role("button", name="Start").click()
    expect(staff.locator("#session-status")).to_contain_text("Invited", timeout=20_000)

    message = next(m for m in reversed(mail.outbox) if m.to == ["ada@example.com"])
    found = LINK.search(str(message.body))
    assert found, message.body
    link = found.group(1)

    person = console_errors(phone_browser.new_page())
    person.goto(link)
    expect(person.get_by_text(consent_text.body)).to_be_visible()
    person.get_by_label("Type your full name").fill("Ada Lovelace")
    person.get_by_label("I have read the text above and I agree to it.").check()
    person.get_by_role("button", name=re.compile("I agree")).click()

    # The simulator's own H5 page, as the upstream would show it on the phone.
    person.wait_for_url(f"{simulator.url}/**")
    person.locator("#person").fill("Ada Lovelace")
    person.get_by_role("button", name=re.compile("Complete", re.I)).click()

    person.wait_for_url(f"{portal.url}/verified/**")
    expect(person.get_by_role("heading", name=re.compile("you are verified"))).to_be_visible()

    session = VerificationSession.objects.get(person__full_name="Ada Lovelace")
    expect(staff.locator("#session-status")).to_contain_text("Verified", timeout=10_000)
    expect(staff.locator("#group-id")).to_have_text(session.upstream_group_id)
    assert session.upstream_group_id.startswith("group-")
    # The simulator's pages stand in for a third party's; only the portal's own are judged.
    ours = [error for error in console_errors.errors if error.startswith(portal.url)]
    assert ours == [], "\n".join(ours)

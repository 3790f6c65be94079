"""The uploader: a waiting or sending file can be cancelled, and a batch shows its overall progress."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_upload import card, payload, serve  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_a_waiting_file_is_cancelled_and_never_sent(serve, phone_browser, console_errors, media):  # noqa: F811
    harness = serve()
    page = console_errors(phone_browser.new_page())
    page.goto(harness.url)
    picture = media.image((640, 480))
    page.locator('input[type="file"]').set_input_files(
        [payload(f"slow-{n}.jpg", picture) for n in range(5)]
    )
    waiting = card(page, "slow-4.jpg")
    expect(waiting).to_have_attribute("data-status", "queued")
    batch = page.locator("[data-batch]")
    expect(batch).to_have_text(re.compile(r"Sent \d of 5 files · \d+%"))
    waiting.get_by_role("button", name="Cancel").click()
    expect(waiting).to_have_attribute("data-status", "cancelled")
    expect(waiting.locator(".upload-status")).to_have_text("Cancelled; not sent")
    expect(batch).to_have_text(re.compile(r"of 4 files"))
    expect(page.locator('.upload-card[data-status="active"]')).to_have_count(4, timeout=15_000)
    expect(batch).to_be_hidden()
    assert "slow-4.jpg" not in [upload["name"] for upload in harness.uploads]
    # Cancelled is not lost: Retry sends it after all.
    waiting.get_by_role("button", name="Retry").click()
    expect(waiting).to_have_attribute("data-status", "active", timeout=15_000)
    assert console_errors.errors == []


def test_a_sent_file_offers_no_cancel(serve, phone_browser, console_errors, media):  # noqa: F811
    harness = serve()
    page = console_errors(phone_browser.new_page())
    page.goto(harness.url)
    page.locator('input[type="file"]').set_input_files([payload("me.jpg", media.image((640, 480)))])
    done = card(page, "me.jpg")
    expect(done).to_have_attribute("data-status", "active", timeout=15_000)
    expect(done.get_by_role("button", name="Cancel")).to_be_hidden()
    expect(page.locator("[data-batch]")).to_be_hidden()  # one file needs no overall line

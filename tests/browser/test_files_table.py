"""The staff group page's file table and the uploader's cards agree while statuses change."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_upload import (  # noqa: F401 (fixtures)
    beat,
    card,
    drop,
    group,
    ours,
    payload,
    staff_upload_page,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_table_follows_the_cards_within_a_second(
    group,  # noqa: F811
    portal,
    desktop,
    console_errors,
    media,
):
    page = staff_upload_page(desktop, portal, group, console_errors)
    expect(page.locator("#asset-list")).to_contain_text("No files yet")
    drop(page, [payload("me.jpg", media.image((800, 1000)))])
    row = page.locator("#asset-list tr[data-status]")
    # Each status the card shows, the table shows too, a moment later (not a 3 s poll later).
    for status in ("validated", "active"):
        expect(card(page, "me.jpg")).to_have_attribute("data-status", status, timeout=30_000)
        expect(row).to_have_attribute("data-status", status, timeout=1_000)
    assert ours(console_errors, portal) == []

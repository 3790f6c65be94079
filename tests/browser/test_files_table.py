"""The staff group page's file table and the uploader's cards agree while statuses change."""

import re

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
    mine = card(page, "me.jpg")
    # Once the server has the file, the table lists it a moment later (not a 3 s poll later)...
    expect(mine).to_have_attribute(
        "data-status", re.compile("validated|forwarding|processing|active"), timeout=30_000
    )
    expect(row).to_have_count(1, timeout=1_000)
    # ...and shows the state the card ends in.
    expect(mine).to_have_attribute("data-status", "active", timeout=30_000)
    expect(row).to_have_attribute("data-status", "active", timeout=1_000)
    assert ours(console_errors, portal) == []

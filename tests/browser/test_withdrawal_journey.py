"""Consent, receipt, the person's own page, withdrawal and destruction, in Chromium."""

import re
import time

import pytest
from django.core import mail
from playwright.sync_api import expect

from assets.models import Asset
from ledger.models import AuditEvent
from tests.journey import make_verified_group
from verification import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_the_person_withdraws_from_their_page_and_everything_is_deleted(
    portal,
    worker,
    simulator,
    account,
    project,
    consent_text,
    person,
    staff_user,
    media,
    settings,
    desktop,
    phone_browser,
    console_errors,
):
    settings.ASSET_FORWARDING_MODE = "inline"
    group = make_verified_group(person, account, project, consent_text, staff_user, simulator)
    session = group.session
    assert session is not None
    consent = session.consents.get()
    # The receipt task the consent queued, as the worker runs it.
    from verification.tasks import send_receipt

    send_receipt.apply(args=[consent.pk])
    receipt_mail = mail.outbox[-1]
    assert receipt_mail.to == [person.email] and len(receipt_mail.attachments) == 2

    from django.core.files.uploadedfile import SimpleUploadedFile

    from assets import services as asset_services

    with media.image((800, 1000)).open("rb") as handle:
        asset = asset_services.receive_upload(
            group=group,
            upload=SimpleUploadedFile("me.jpg", handle.read()),
            uploader=asset_services.Uploader(user=staff_user),
            request=None,
        )
    wait_for(lambda: Asset.objects.get(pk=asset.pk).status == Asset.Status.PROCESSING)
    asset_services.refresh_status(asset=Asset.objects.get(pk=asset.pk))
    asset.refresh_from_db()
    assert asset.status == Asset.Status.ACTIVE

    link = services.show_link(session=session, user=staff_user).replace(
        "http://127.0.0.1:8000", portal.url
    )
    page = console_errors(phone_browser.new_page())
    page.goto(link)
    expect(page.get_by_role("heading", name="Your consent")).to_be_visible()
    expect(page.get_by_text("me.jpg")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Receipt (PDF)").click()
    assert download.value.suggested_filename.endswith(".pdf")

    page.get_by_role("link", name="Withdraw my consent").click()
    page.get_by_role("button", name="Yes, withdraw my consent").click()
    expect(page.get_by_role("heading", name="Your consent is withdrawn")).to_be_visible()

    # The worker deletes the asset, then the group, upstream.
    wait_for(lambda: AuditEvent.objects.filter(action="destruction.completed").exists())
    state = simulator.control("GET", "state")["credentials"].values()
    assert all(g["deleted"] for c in state for g in c["groups"] if g["id"] == group.upstream_id)
    assert not [
        a
        for c in state
        for a in c["assets"]
        if a["id"] == asset.upstream_id and not a.get("deleted")
    ]
    assert "deleted the photos, videos and voice recordings" in mail.outbox[-1].body

    staff = console_errors(desktop.new_page())
    staff.goto(f"{portal.url}/login/")
    staff.get_by_label("Username").fill("staffer")
    staff.get_by_label("Password").fill("correct horse battery staple")
    staff.get_by_role("button", name="Sign in").click()
    staff.goto(f"{portal.url}/persons/{person.pk}/")
    expect(staff.get_by_text(re.compile("Withdrawn"))).to_be_visible()
    expect(staff.get_by_text("media destroyed")).to_be_visible()
    staff.goto(f"{portal.url}/sessions/{session.pk}/")
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    for step in ("consent.withdrawn", "asset.deleted", "group.deleted", "destruction.completed"):
        assert step in actions
    ours = [e for e in console_errors.errors if e.startswith(portal.url)]
    assert ours == [], "\n".join(ours)

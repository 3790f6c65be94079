"""Development's outbox: invitations kept where staff can open them, the log redacted whole."""

import logging
import re
from email import message_from_bytes

import pytest
from django.core import mail

from portal.logging import redact
from tests.journey import LINK

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox_on(settings, tmp_path):
    settings.DEBUG = True
    settings.OUTBOX_DIR = tmp_path / "outbox"
    settings.EMAIL_BACKEND = "verification.outbox.OutboxEmailBackend"
    settings.SMS_BACKEND = "verification.outbox.OutboxSmsBackend"
    return settings.OUTBOX_DIR


def _deliver():
    from tests.journey import run_pending_invitations

    run_pending_invitations()


def test_staff_open_an_emailed_invitation_from_the_outbox(
    outbox_on, start_by_email, staff_client, phone, caplog
):
    from verification.outbox import OutboxEmailBackend

    _, link = start_by_email()  # the test run's mail backend caught it; send it on as make run does
    with caplog.at_level(logging.INFO, logger="verification.outbox"):
        assert OutboxEmailBackend().send_messages([mail.outbox[-1]]) == 1
    page = staff_client.get("/dev/outbox/")
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    match = LINK.search(html)
    assert match and match.group(1) == link, html
    assert "jane@example.com" in html and "receipt" not in html
    assert phone.get(match.group(1)).status_code == 200  # the link opens the person's page
    [file] = list(outbox_on.glob("*.json"))
    assert file.stat().st_mode & 0o777 == 0o600
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "jane@example.com" in logged and link in logged  # whole, so the formatter can redact it
    formatted = logging.Formatter().format(caplog.records[-1])
    assert link not in redact(formatted) and "/p/[redacted]" in redact(formatted)


def test_an_sms_invitation_is_listed_too(
    outbox_on, staff_client, person, account, project, consent_text
):
    response = staff_client.post(
        f"/persons/{person.pk}/verify/",
        {
            "account": account.pk,
            "project": project.pk,
            "consent_text": consent_text.pk,
            "media_kinds": ["image"],
            "channel": "sms",
        },
    )
    assert response.status_code == 302
    _deliver()
    html = staff_client.get("/dev/outbox/").content.decode()
    assert "SMS to <strong>+14155550123</strong>" in html and LINK.search(html)


def test_the_outbox_does_not_exist_without_debug(settings, staff_client):
    settings.DEBUG = False
    assert staff_client.get("/dev/outbox/").status_code == 404


def test_the_outbox_is_for_staff(outbox_on, client):
    assert client.get("/dev/outbox/").status_code == 302


def test_an_empty_outbox_says_where_messages_come_from(outbox_on, staff_client):
    assert b"Nothing sent yet" in staff_client.get("/dev/outbox/").content


# --- The log's redaction and quoted-printable mail ------------------------------------------


def test_a_link_broken_by_quoted_printable_is_still_redacted(start_by_email, settings, capsys):
    """Django's console backend prints the raw MIME; its HTML part is quoted-printable, which
    breaks a long line (and the token in it) with "=" line ends."""
    _, link = start_by_email()
    token = link.strip("/").rsplit("/", 1)[-1]
    message = mail.outbox[-1]
    raw = message.message().as_bytes().decode()
    assert re.search(r"=\r?\n", raw)  # soft line breaks are there
    printed = redact(raw)
    for start in range(len(token) - 6):
        assert token[start : start + 6] not in printed
    assert message_from_bytes(message.message().as_bytes())  # still a message


def test_the_console_backend_output_hides_a_split_token():
    token = "A" * 20 + "bcdefghijklmnopqrstuv"
    printed = f'<a href=3D"http://127.0.0.1:8000/p/{token[:12]}=\n{token[12:]}/">open</a>'
    assert token[12:18] not in redact(printed) and "/p/[redacted]" in redact(printed)
    split_prefix = f"http://127.0.0.1:8000/=\np/{token}/"
    assert token[:6] not in redact(split_prefix)


def test_the_session_page_points_to_the_outbox_in_development(
    outbox_on, start_by_email, staff_client
):
    session, _ = start_by_email()
    assert b'href="/dev/outbox/"' in staff_client.get(f"/sessions/{session.pk}/").content


def test_the_session_page_has_no_outbox_link_in_production(start_by_email, staff_client, settings):
    settings.DEBUG = False
    session, _ = start_by_email()
    assert b"/dev/outbox/" not in staff_client.get(f"/sessions/{session.pk}/").content

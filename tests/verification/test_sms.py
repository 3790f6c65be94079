"""Invitations by SMS: the pluggable backend, the Twilio adapter against a local stand-in."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from verification import services, sms
from verification.models import Invitation

pytestmark = pytest.mark.django_db


@pytest.fixture
def locmem_sms(settings):
    settings.SMS_BACKEND = "verification.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def start_sms_session(staff_user, person, account, project, consent_text):
    session = services.start_session(
        person=person,
        account_id=account.pk,
        project=project,
        consent_text=consent_text,
        media_kinds=["image"],
        channel="sms",
        user=staff_user,
    )
    services.deliver_invitation(invitation_id=session.invitations.get().pk)
    return session


def test_the_sms_carries_the_portal_link(
    locmem_sms, staff_user, person, account, project, consent_text, phone
):
    session = start_sms_session(staff_user, person, account, project, consent_text)
    (message,) = locmem_sms
    assert message.to == "+14155550123"
    assert "Winter campaign" in message.body and "/p/" in message.body
    link = message.body[message.body.index("/p/") :].split()[0]
    assert phone.get(link).status_code == 200
    assert session.invitations.get().status == Invitation.Status.SENT


class FakeTwilio(BaseHTTPRequestHandler):
    received: list[dict] = []
    answer_status = 201

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        FakeTwilio.received.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "form": parse_qs(body)}
        )
        payload = (
            {"sid": "SM123"}
            if self.answer_status < 400
            else {"message": "The 'To' number is not a valid phone number."}
        )
        data = json.dumps(payload).encode()
        self.send_response(self.answer_status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeTwilio.received = []
    FakeTwilio.answer_status = 201
    settings.SMS_BACKEND = "verification.sms.TwilioSmsBackend"
    settings.TWILIO_API_URL = f"http://127.0.0.1:{server.server_port}"
    settings.TWILIO_ACCOUNT_SID = "AC0001"
    settings.TWILIO_AUTH_TOKEN = "twilio-secret"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    yield FakeTwilio
    server.shutdown()


def test_twilio_gets_the_message_with_basic_auth(
    twilio, staff_user, person, account, project, consent_text
):
    start_sms_session(staff_user, person, account, project, consent_text)
    (request,) = twilio.received
    assert request["path"] == "/2010-04-01/Accounts/AC0001/Messages.json"
    assert request["auth"].startswith("Basic ")
    assert request["form"]["To"] == ["+14155550123"] and request["form"]["From"] == ["+15005550006"]


def test_a_refused_sms_is_shown_to_staff_in_words(
    twilio, staff_user, person, account, project, consent_text, staff_client
):
    twilio.answer_status = 400
    session = start_sms_session(staff_user, person, account, project, consent_text)
    invitation = session.invitations.get()
    assert invitation.status == Invitation.Status.FAILED
    assert "not a valid phone number" in invitation.error
    assert "twilio-secret" not in invitation.error
    assert b"not a valid phone number" in staff_client.get(f"/sessions/{session.pk}/").content


def test_sms_without_configuration_says_what_is_missing(
    settings, staff_user, person, account, project, consent_text
):
    settings.SMS_BACKEND = "verification.sms.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = ""
    session = start_sms_session(staff_user, person, account, project, consent_text)
    assert "set TWILIO_ACCOUNT_SID" in session.invitations.get().error

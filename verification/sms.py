"""Text messages: a tiny backend interface, a console backend for development, an in-memory one for
tests and a Twilio adapter for production. `SMS_BACKEND` names the class."""

import logging
from dataclasses import dataclass
from typing import Protocol

import requests
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The message was not accepted; the text says why in words staff can act on."""


@dataclass(frozen=True)
class Sms:
    to: str
    body: str


class SmsBackend(Protocol):
    def send(self, message: Sms) -> str:
        """Send one message; return the provider's message id. Raise SmsError on refusal."""
        ...


class ConsoleSmsBackend:
    """Development: the message goes to the log, where `make run` shows it."""

    def send(self, message: Sms) -> str:
        logger.info("SMS to %s:\n%s", message.to, message.body)
        return "console"


# Tests read what was sent from here, like Django's mail.outbox.
outbox: list[Sms] = []


class LocmemSmsBackend:
    def send(self, message: Sms) -> str:
        outbox.append(message)
        return f"locmem-{len(outbox)}"


class TwilioSmsBackend:
    """Twilio's Messages API. Needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER."""

    def send(self, message: Sms) -> str:
        sid, token, sender = (
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            settings.TWILIO_FROM_NUMBER,
        )
        if not (sid and token and sender):
            raise SmsError(
                "SMS is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER."
            )
        url = f"{settings.TWILIO_API_URL}/2010-04-01/Accounts/{sid}/Messages.json"
        try:
            response = requests.post(
                url,
                data={"To": message.to, "From": sender, "Body": message.body},
                auth=(sid, token),
                timeout=(5, 20),
            )
        except requests.RequestException as error:
            raise SmsError(
                f"The SMS provider could not be reached ({type(error).__name__})."
            ) from error
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", "")
            except ValueError:
                detail = ""
            raise SmsError(
                f"The SMS provider refused the message (HTTP {response.status_code}). {detail}".strip()
            )
        return str(response.json().get("sid", ""))


def backend() -> SmsBackend:
    backend_class: type[SmsBackend] = import_string(settings.SMS_BACKEND)
    return backend_class()

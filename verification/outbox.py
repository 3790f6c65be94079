"""Development's outbox: the mail and SMS `make run` "sends", kept where staff can open them.

With `DEBUG` on, the default mail and SMS backends log each message (its decoded text, so the
log's redaction sees every link whole) and keep a copy under `var/outbox/`, one JSON file per
message, readable only by the portal's user. The staff outbox page (`/dev/outbox/`, `DEBUG` only)
lists them with their links: the way to open an invitation in development. Production never
writes here: its backends are SMTP and Twilio.
"""

import json
import logging
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from verification import sms

logger = logging.getLogger(__name__)
LINK = re.compile(r"https?://[^\s\"'<>]+")
KEPT = 200  # the newest messages listed; older files stay on disk until `make clean`


def outbox_dir() -> Path:
    return Path(settings.OUTBOX_DIR)


@dataclass(frozen=True)
class Sent:
    kind: str  # "email" or "sms"
    to: str
    subject: str
    text: str
    sent_at: datetime
    attachments: tuple[str, ...]

    @property
    def links(self) -> list[str]:
        return list(dict.fromkeys(LINK.findall(self.text)))


def _keep(entry: dict[str, Any]) -> None:
    folder = outbox_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC)
    entry["sent_at"] = stamp.isoformat()
    name = f"{stamp:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.json"
    # Created 0600: the file holds a live link to a person's page.
    descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(entry, handle, ensure_ascii=False)


def sent_messages() -> list[Sent]:
    """The newest messages first."""
    folder = outbox_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json"), reverse=True)[:KEPT]:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            found.append(
                Sent(
                    kind=entry["kind"],
                    to=", ".join(entry["to"]),
                    subject=entry.get("subject", ""),
                    text=entry["text"],
                    sent_at=datetime.fromisoformat(entry["sent_at"]),
                    attachments=tuple(entry.get("attachments", ())),
                )
            )
        except (OSError, ValueError, KeyError) as error:
            logger.warning("Outbox file %s can't be read: %s", path.name, error)
    return found


class OutboxEmailBackend(BaseEmailBackend):
    """Logs each message's subject and plain text, and keeps it in the outbox. Not Django's
    console backend: that prints the raw MIME, where quoted-printable breaks a link across
    lines and the log's redaction can't recognise it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            text = str(message.body)
            names = [
                attachment[0] if isinstance(attachment, tuple) else str(attachment)
                for attachment in message.attachments
            ]
            logger.info("Email to %s: %s\n%s", ", ".join(message.to), message.subject, text.strip())
            _keep(
                {
                    "kind": "email",
                    "to": list(message.to),
                    "subject": str(message.subject),
                    "text": text,
                    "attachments": [name or "attachment" for name in names],
                }
            )
        return len(email_messages)


class OutboxSmsBackend(sms.ConsoleSmsBackend):
    """The console SMS backend, keeping each message in the outbox too."""

    def send(self, message: sms.Sms) -> str:
        super().send(message)
        _keep({"kind": "sms", "to": [message.to], "subject": "", "text": message.body})
        return "outbox"

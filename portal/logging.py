"""Log formatting: one JSON object per line (or plain text), with secrets redacted.

Redaction happens on the finished text — message, traceback and extra fields — so it also covers
what third-party code logs (Django's "Not Found: /p/<token>/", gunicorn's access lines, a
library echoing a header). It removes the shapes secrets take here: bearer and basic
credentials, API tokens, Fernet ciphertext, request signatures, person-link and fetch tokens in
paths, secret-named query and form fields, and the literal values of the configured secrets.
"""

import json
import logging
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

from gunicorn.glogging import Logger as GunicornBaseLogger

MASK = "[redacted]"
_SOFT_BREAK = r"=\r?\n"


def _qp(literal: str) -> str:
    """A pattern for `literal` that also matches it broken by quoted-printable soft line breaks."""
    return f"(?:{_SOFT_BREAK})?".join(re.escape(char) for char in literal)


# (pattern, replacement); applied in order.
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{6,}"), rf"\1 {MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), f"sk-{MASK}"),
    # Fernet tokens (stored credentials and upstream tokens at rest) start with the version byte.
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-]{20,}={0,2}"), MASK),
    # BytePlus request signatures and credentials.
    (re.compile(r"(?i)(Signature=)[0-9a-f]{16,}"), rf"\1{MASK}"),
    (re.compile(r"(?i)(Credential=)[^\s,]+"), rf"\1{MASK}"),
    # Person links, upstream fetch links and liveness callbacks carry their key in the path, which
    # quoted-printable mail (an HTML part printed as it is sent) may break with "=" line ends.
    (re.compile(rf"({_qp('/p/')})(?:{_SOFT_BREAK}|[A-Za-z0-9_\-]){{8,}}"), rf"\1{MASK}"),
    (re.compile(rf"({_qp('/fetch/')})(?:{_SOFT_BREAK}|[^/\s?\"']){{8,}}"), rf"\1{MASK}"),
    (re.compile(rf"({_qp('/verified/')})(?:{_SOFT_BREAK}|[A-Za-z0-9_\-]){{8,}}"), rf"\1{MASK}"),
    # name=value and "name": "value" where the name says secret.
    (
        re.compile(
            r"(?i)([\"']?\b[\w\-]*(?:token|secret|password|passwd|api[_\-]?key|access[_\-]?key"
            r"|signature|authorization|cookie|sessionid|csrf)[\w\-]*[\"']?\s*[:=]\s*[\"']?)"
            r"([^\"'\s&,;}]+)"
        ),
        rf"\1{MASK}",
    ),
]
SECRET_SETTINGS = (
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "AUDIT_SIGNING_KEY",
    "EMAIL_HOST_PASSWORD",
    "TWILIO_AUTH_TOKEN",
    "METRICS_KEY",
)


@cache
def _configured_secrets() -> tuple[str, ...]:
    """The literal values of the configured secrets (longest first), once settings are loaded."""
    from django.conf import settings

    values: list[str] = []
    for name in SECRET_SETTINGS:
        value = getattr(settings, name, "")
        for item in value if isinstance(value, list | tuple) else [value]:
            values += [line.strip() for line in str(item).splitlines() if len(line.strip()) >= 12]
    return tuple(sorted(set(values), key=len, reverse=True))


def redact(text: str) -> str:
    """`text` without the secrets this portal knows the shape or the value of."""
    try:
        secrets = _configured_secrets()
    except Exception:  # settings not configured (a bare gunicorn master, a script)
        secrets = ()
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """The standard formatter, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Django puts the request and its socket on some records: neither belongs in a log line.
_SKIPPED = {"request", "server_time", "status_code"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the process, and
    any simple `extra=` fields; `exc` holds the traceback. Everything redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "process": record.process,
        }
        status = getattr(record, "status_code", None)
        if isinstance(status, int):
            entry["status"] = status
        for key, value in vars(record).items():
            if key in _STANDARD or key in _SKIPPED or key.startswith("_"):
                continue
            if isinstance(value, bool | int | float) or value is None:
                entry[key] = value
            elif isinstance(value, str):
                entry[key] = redact(value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's logger with redacted access lines: a request line or referrer holding a person's
    link token never reaches the log. Selected in gunicorn.conf.py."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        from portal.clients import client_address  # needs settings: imported when first used

        # The client, as limits and evidence know it, not the proxy it came through.
        atoms["h"] = client_address(environ) or atoms.get("h", "-")
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().error(redact(str(msg)), *args, **kwargs)


class QuietSweeps(logging.Filter):
    """Periodic sweeps run every few seconds; a run that found nothing is logged at DEBUG (shown
    only with LOG_LEVEL=DEBUG), so the log shows what happened, not the clock. A run that found
    work, and every failure, keep their level."""

    NOTHING = ("0", "None", "[]", "()", "{}")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self._is_idle_sweep(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    def _is_idle_sweep(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "celery.beat" and isinstance(args, tuple) and len(args) == 2:
            return str(record.msg).startswith("Scheduler: Sending due task") and (
                args[1] in _periodic_tasks()
            )
        if record.name in ("celery.worker.strategy", "celery.app.trace") and isinstance(args, dict):
            if args.get("name") not in _periodic_tasks():
                return False
            if "return_value" in args:  # "succeeded in …: <result>"
                return str(args["return_value"]) in self.NOTHING
            return "received" in str(record.msg)
        return False


def _periodic_tasks() -> frozenset[str]:
    from django.conf import settings

    schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", {})
    return frozenset(entry["task"] for entry in schedule.values())

"""Structured logs with secrets redacted: messages, tracebacks, extra fields, gunicorn's access
lines."""

import json
import logging
import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config

from portal.logging import MASK, GunicornLogger, JsonFormatter, RedactingFormatter, redact

ROOT = Path(__file__).resolve().parents[2]
FERNET = "gAAAAABl3x" + "Q" * 60 + "=="


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Bearer sk-live-0123456789abcdef", "sk-live-0123456789abcdef"),
        ("headers={'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "dXNlcjpwYXNzd29yZA=="),
        ("token sk-test-direct-0123456789 refused", "sk-test-direct-0123456789"),
        (f"stored value {FERNET}", FERNET),
        ("Not Found: /p/Zx3kQ9v_abcdefghijklmnop/consent/", "Zx3kQ9v_abcdefghijklmnop"),
        ('"GET /fetch/eyJhc2lkIjo0Mn0:1u2v3w:AbCdEf/ HTTP/1.1"', "eyJhc2lkIjo0Mn0:1u2v3w:AbCdEf"),
        ("callback /verified/q9W8e7R6t5Y4u3I2o1P0/?resultCode=10000", "q9W8e7R6t5Y4u3I2o1P0"),
        ("GET /verified/x?bytedToken=20260520163350ABCDEF0123456789ABCD", "ABCDEF0123456789"),
        ('{"password": "hunter2hunter2", "user": "x"}', "hunter2hunter2"),
        ("api_key=AKLT-12345-secret&page=2", "AKLT-12345-secret"),
        ("X-Csrftoken: 9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706"),
        (
            "Authorization: HMAC-SHA256 Credential=AKTEST0123/20260101/ap-southeast-1/ark/request, "
            "SignedHeaders=content-type;host, Signature=" + "ab" * 32,
            "ab" * 32,
        ),
    ],
)
def test_secrets_of_known_shapes_are_redacted(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned
    assert MASK in cleaned


def test_the_configured_secret_values_are_redacted_wherever_they_appear(settings):
    from portal import logging as portal_logging

    settings.METRICS_KEY = "plain-looking-value-that-is-secret"
    portal_logging._configured_secrets.cache_clear()
    try:
        assert "plain-looking" not in redact("key was plain-looking-value-that-is-secret!")
    finally:
        portal_logging._configured_secrets.cache_clear()


def test_ordinary_lines_are_left_alone():
    for line in (
        "upstream Studio GetAsset status=200 41ms request_id=20260101-abc",
        "asset 12 is active: asset://asset-20260320120147-pqwhc",
        "Forbidden (CSRF cookie not set.): /login/",
        "GET /persons/12/ HTTP/1.1 200",
    ):
        assert redact(line) == line


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("sitter.test", logging.WARNING, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


def test_json_lines_carry_time_level_logger_message_and_simple_extras():
    line = JsonFormatter().format(
        record("asset %s failed: %s", 7, "FaceMismatch", asset=7, token="sk-abcdefgh12345")
    )
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "sitter.test"
    assert entry["message"] == "asset 7 failed: FaceMismatch"
    assert entry["time"].endswith("+00:00")
    assert entry["asset"] == 7
    assert "sk-abcdefgh12345" not in line


def test_tracebacks_are_redacted_too():
    try:
        raise RuntimeError("upstream said: Bearer sk-inside-an-exception-0001")
    except RuntimeError:
        import sys

        entry = record("call failed")
        entry.exc_info = sys.exc_info()
    for formatter in (JsonFormatter(), RedactingFormatter("%(message)s")):
        text = formatter.format(entry)
        assert "RuntimeError" in text and "sk-inside-an-exception-0001" not in text
        entry.exc_text = None


def test_django_logs_through_the_redacting_formatters(settings):
    formatters = settings.LOGGING["formatters"]
    assert formatters["json"]["()"] == "portal.logging.JsonFormatter"
    assert formatters["plain"]["()"] == "portal.logging.RedactingFormatter"
    assert settings.LOGGING["handlers"]["console"]["formatter"] in formatters


def test_gunicorn_access_lines_never_show_a_persons_link():
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["logger_class"] == (
        "portal.logging.GunicornLogger"
    )
    logger = GunicornLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/p/Zx3kQ9v_abcdefghijklmnop/",
        "PATH_INFO": "/p/Zx3kQ9v_abcdefghijklmnop/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": "https://sitter.example.com/p/Zx3kQ9v_abcdefghijklmnop/consent/",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer metrics-key-0123456789")])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=5))
    text = logger.cfg.access_log_format % atoms
    assert "Zx3kQ9v_abcdefghijklmnop" not in text and "/p/[redacted]/" in text
    assert "metrics-key-0123456789" not in json.dumps(atoms, default=str)


def test_djangos_own_unredacted_handlers_are_replaced():
    for name in ("django", "django.server"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate, name


# --- Idle sweeps ------------------------------------------------------------------------------


def _celery_record(name: str, msg: str, args: Any) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, None, None)
    record.args = args  # as Celery passes them: a dict, or a tuple for beat
    return record


@pytest.mark.parametrize(
    "record",
    [
        _celery_record(
            "celery.beat",
            "Scheduler: Sending due task %s (%s)",
            ("poll-liveness", "verification.tasks.sweep_liveness"),
        ),
        _celery_record(
            "celery.worker.strategy",
            "Task %(name)s[%(id)s] received",
            {"name": "verification.tasks.sweep_liveness", "id": "1"},
        ),
        _celery_record(
            "celery.app.trace",
            "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
            {
                "name": "verification.tasks.sweep_liveness",
                "id": "1",
                "runtime": 0.01,
                "return_value": "0",
            },
        ),
    ],
    ids=["beat", "received", "found-nothing"],
)
def test_a_sweep_that_found_nothing_is_logged_at_debug(record):
    from portal.logging import QuietSweeps

    assert QuietSweeps().filter(record) is False  # the root logger is at INFO
    assert record.levelname == "DEBUG"


def test_a_sweep_that_found_work_and_other_tasks_keep_their_level():
    from portal.logging import QuietSweeps

    found = _celery_record(
        "celery.app.trace",
        "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
        {
            "name": "verification.tasks.sweep_liveness",
            "id": "1",
            "runtime": 0.01,
            "return_value": "3",
        },
    )
    other = _celery_record(
        "celery.worker.strategy",
        "Task %(name)s[%(id)s] received",
        {"name": "verification.tasks.deliver_invitation", "id": "2"},
    )
    assert QuietSweeps().filter(found) is True and found.levelname == "INFO"
    assert QuietSweeps().filter(other) is True and other.levelname == "INFO"


def test_the_console_handler_quiets_idle_sweeps(settings):
    assert "quiet_sweeps" in settings.LOGGING["handlers"]["console"]["filters"]
    from portal.logging import QuietSweeps

    assert any(
        isinstance(f, QuietSweeps)
        for handler in logging.getLogger().handlers
        for f in handler.filters
    )

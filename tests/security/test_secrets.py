"""After a whole journey, the secrets it handled are nowhere they could be read back later.

The person's link token, the upstream's BytedToken, the upstream API token and the upstream secret
key must not appear in the logs (raw records at DEBUG, and the lines the configured handlers
write), in any column of any table (raw values: encrypted fields hold ciphertext), or in any Celery
message sent.
"""

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from celery.app.task import Task
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from kombu.messaging import Producer

from assets.models import Asset, AssetGroup
from portal.celery import app
from tests.journey import callback_path, consent_and_start, latest_attempt, link_in_last_message
from upstream.models import UpstreamAccount
from verification.models import AuthorizingPerson, VerificationSession

pytestmark = pytest.mark.django_db
# The tests' own calls to the simulator's control API (finishing liveness as the phone would)
# carry the BytedToken; the portal never makes them.
HARNESS = "/_control/"


@dataclass
class Sent:
    """Every task queued, as called and as published to the broker."""

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    published: list[str] = field(default_factory=list)

    def run(self, name: str) -> int:
        """Run the queued tasks of one name, as a worker would; how many ran."""
        mine = [call for call in self.calls if call[0] == name]
        self.calls = [call for call in self.calls if call[0] != name]
        for _, args, kwargs in mine:
            app.tasks[name].apply(args=args, kwargs=kwargs).get()
        return len(mine)


@contextmanager
def tasks_sent() -> Iterator[Sent]:
    sent = Sent()
    apply_async = Task.apply_async
    publish = Producer.publish

    def record_call(task: Task, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        sent.calls.append((task.name, tuple(args or ()), dict(kwargs or {})))
        return apply_async(task, args, kwargs, **options)

    def record_message(producer: Producer, body: Any, *args: Any, **kwargs: Any) -> Any:
        sent.published.append(repr((body, args, kwargs)))
        return publish(producer, body, *args, **kwargs)

    with (
        mock.patch.object(Task, "apply_async", autospec=True, side_effect=record_call),
        mock.patch.object(Producer, "publish", autospec=True, side_effect=record_message),
    ):
        yield sent


class RawText(logging.Handler):
    """Each record as an unredacted handler would write it, formatted when it is emitted: an
    exception's text can depend on objects that change once the request is over."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, self.format(record)))


@contextmanager
def log_output(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Every logger at DEBUG; the configured handlers write to a buffer instead of the console."""
    buffer = io.StringIO()
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level:
            caplog.set_level(logging.DEBUG, logger=name)
    # The project's handlers, not pytest's own capturing ones.
    handlers = [
        h
        for h in logging.root.handlers
        if isinstance(h, logging.StreamHandler) and not type(h).__module__.startswith("_pytest")
    ]
    assert handlers, "the project's logging configuration has no stream handler"
    streams = [h.setStream(buffer) for h in handlers]
    raw = RawText()
    logging.root.addHandler(raw)
    buffer.raw = raw.lines  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        logging.root.removeHandler(raw)
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)


def database_text() -> Iterator[tuple[str, str]]:
    """(table.column, text) for every value in every table, as stored."""
    tables = connection.introspection.table_names()
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    if value is not None:
                        yield f"{table}.{column}", str(value)
                if table == "django_session":
                    yield f"{table} (decoded)", repr(SessionStore().decode(row[1]))


def every_model_table_was_read() -> None:
    from django.apps import apps

    tables = set(connection.introspection.table_names())
    missing = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    } - tables
    assert not missing, missing


def journey(
    *,
    adapter: str,
    staff_client,
    phone,
    simulator,
    project,
    consent_text,
    media,
    capture_on_commit,
    sent: Sent,
) -> dict[str, str]:
    """Create a person, invite by email, open, consent, pass liveness, upload an image that goes
    upstream inline and becomes Active. Returns the secrets it handled, by name."""
    account = UpstreamAccount.objects.create(
        name=f"Simulated {adapter}",
        adapter=adapter,
        base_url=simulator.url,
        api_token=simulator.token,
        access_key_id=simulator.access_key_id,
        secret_access_key=simulator.secret_access_key,
    )
    created = staff_client.post(
        "/persons/new/",
        {"full_name": "Erin Example", "email": "erin@example.com", "language": "en"},
    )
    assert created.status_code == 302, created.content
    person = AuthorizingPerson.objects.get(email="erin@example.com")
    with capture_on_commit(execute=True):
        started = staff_client.post(
            f"/persons/{person.pk}/verify/",
            {
                "account": account.pk,
                "project": project.pk,
                "consent_text": consent_text.pk,
                "media_kinds": ["image", "video", "audio"],
                "channel": "email",
            },
        )
    assert started.status_code == 302, started.content
    assert sent.run("verification.tasks.deliver_invitation") == 1
    link = link_in_last_message()
    session = VerificationSession.objects.get(person=person)

    assert phone.get(link).status_code == 200
    with capture_on_commit(execute=True):
        h5_link = consent_and_start(phone, link, "Erin Example")
    assert h5_link.startswith(simulator.url)
    attempt = latest_attempt(session)
    with capture_on_commit(execute=True):
        done = phone.get(callback_path(simulator.complete(attempt.byted_token)))
    assert done.status_code == 200
    session.refresh_from_db()
    assert session.status == VerificationSession.Status.VERIFIED
    group = AssetGroup.objects.get(session=session)

    with capture_on_commit(execute=True), media.image((800, 1000)).open("rb") as image:
        uploaded = staff_client.post(
            f"/groups/{group.pk}/upload/", {"files": image}, headers={"Accept": "application/json"}
        )
    assert uploaded.status_code == 201, uploaded.content
    assert sent.run("assets.tasks.forward_asset") == 1
    asset = Asset.objects.get(group=group)
    app.tasks["assets.tasks.check_asset"].apply(args=[asset.pk]).get()
    asset.refresh_from_db()
    assert asset.status == Asset.Status.ACTIVE, asset.error_message
    assert staff_client.get(f"/sessions/{session.pk}/").status_code == 200
    assert staff_client.get(f"/groups/{group.pk}/").status_code == 200
    return {
        "link token": link.strip("/").rsplit("/", 1)[-1],
        "BytedToken": attempt.byted_token,
        "upstream API token": simulator.token,
        "upstream secret key": simulator.secret_access_key,
    }


@pytest.mark.parametrize("adapter", ["anyfast", "byteplus"])
def test_a_journey_leaves_no_secret_in_logs_database_or_task_messages(
    adapter,
    staff_client,
    phone,
    simulator,
    project,
    consent_text,
    media,
    settings,
    caplog,
    django_capture_on_commit_callbacks,
):
    settings.ASSET_FORWARDING_MODE = "inline"
    with log_output(caplog) as written, tasks_sent() as sent:
        secrets = journey(
            adapter=adapter,
            staff_client=staff_client,
            phone=phone,
            simulator=simulator,
            project=project,
            consent_text=consent_text,
            media=media,
            capture_on_commit=django_capture_on_commit_callbacks,
            sent=sent,
        )
    assert all(len(value) >= 16 for value in secrets.values()), secrets
    assert caplog.records, "nothing was logged: the capture is not working"
    assert sent.published, "no task message was captured"

    found: set[str] = set()

    def search(where: str, text: str) -> None:
        for what, value in secrets.items():
            if (at := text.find(value)) >= 0:
                found.add(f"{what} in {where}: …{text[max(0, at - 60) : at + 20]!r}…")

    for record in caplog.records:
        message = record.getMessage()
        if HARNESS in message:
            continue
        search(f"a {record.name} log record", message)
    output = "\n".join(line for line in written.getvalue().splitlines() if HARNESS not in line)
    search("the log output", output)
    for where, text in database_text():
        search(where, text)
    for message in [repr(call) for call in sent.calls] + sent.published:
        search("a task message", message)
    assert not found, "\n".join(sorted(found))
    every_model_table_was_read()


def test_exceptions_on_raw_debug_records_hold_no_secret(
    staff_client,
    phone,
    simulator,
    project,
    consent_text,
    media,
    settings,
    caplog,
    django_capture_on_commit_callbacks,
):
    settings.ASSET_FORWARDING_MODE = "inline"
    with log_output(caplog) as written, tasks_sent() as sent:
        secrets = journey(
            adapter="anyfast",
            staff_client=staff_client,
            phone=phone,
            simulator=simulator,
            project=project,
            consent_text=consent_text,
            media=media,
            capture_on_commit=django_capture_on_commit_callbacks,
            sent=sent,
        )
    leaked = {
        f"{what} in a raw {name} record: {text.splitlines()[0]}"
        for name, text in written.raw  # type: ignore[attr-defined]
        if HARNESS not in text
        for what, value in secrets.items()
        if value in text
    }
    assert not leaked, "\n".join(sorted(leaked))

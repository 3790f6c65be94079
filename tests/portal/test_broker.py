"""The embedded broker (`sitterfs://`, portal.broker) with several producers and consumers."""

import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from kombu import Connection
from kombu.transport.virtual import Empty

from portal.broker import Channel

ROOT = Path(__file__).resolve().parents[2]
PRODUCE = """
import sys
from portal.celery import app
from tests.portal.broker_tasks import note
first, count = int(sys.argv[1]), int(sys.argv[2])
with app.connection_for_write() as connection:
    for number in range(first, first + count):
        note.apply_async((number,), connection=connection)
"""


def options(folder: Path) -> dict[str, object]:
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.01,
    }


def test_a_message_that_cannot_be_decoded_is_moved_aside_and_the_next_one_delivered(
    tmp_path, caplog
):
    (tmp_path / "queue").mkdir()
    with Connection("sitterfs://", transport_options=options(tmp_path)) as connection:
        queue = connection.SimpleQueue("work")
        (tmp_path / "queue" / "0_broken.work.msg").write_text('{"body": "half a mess')
        queue.put({"n": 1})
        with caplog.at_level(logging.ERROR, "portal.broker"):
            message = queue.get(timeout=2)
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()
    assert [path.name for path in (tmp_path / "corrupt").iterdir()] == ["0_broken.work.msg"]
    assert "0_broken.work.msg can't be decoded" in caplog.text
    assert list((tmp_path / "queue").iterdir()) == []
    assert list((tmp_path / "claimed").iterdir()) == []


def test_a_message_being_written_is_invisible_until_complete(tmp_path, monkeypatch):
    (tmp_path / "queue").mkdir()
    with Connection("sitterfs://", transport_options=options(tmp_path)) as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        looked: list[tuple[list[str], str]] = []
        real_replace = os.replace

        def look_then_replace(source: str, target: str) -> None:
            """What a consumer finds at the last moment before the message is in place."""
            try:
                channel._get("work")
                found = "a message"
            except Empty:
                found = "nothing"
            looked.append((sorted(os.listdir(tmp_path / "queue")), found))
            real_replace(source, target)

        monkeypatch.setattr("portal.broker.os.replace", look_then_replace)
        channel._put("work", {"body": "x" * 100_000})
        monkeypatch.undo()
        [(names, found)] = looked
        assert len(names) == 1 and names[0].startswith(".writing-") and found == "nothing"
        assert channel._get("work") == {"body": "x" * 100_000}


def worker_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        SITTER_VAR_DIR=str(tmp_path / "var"),
        CELERY_BROKER_URL="sitterfs://localhost/",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="portal.settings",
        NOTES_FILE=str(tmp_path / "notes.txt"),
        PYTHONPATH=str(ROOT),
        DEBUG="true",
    )
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = "celery -A portal worker -I tests.portal.broker_tasks --pool solo --loglevel WARNING"
    flags = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return subprocess.Popen(
        [sys.executable, "-m", *command.split(), *flags],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def delivered(notes: Path) -> Counter[int]:
    if not notes.exists():
        return Counter()
    return Counter(int(line) for line in notes.read_text().split())


@pytest.mark.parametrize(
    "messages", [400, pytest.param(3000, marks=pytest.mark.chaos, id="3000-soak")]
)
def test_two_producers_and_two_workers_deliver_every_message_once_and_the_workers_live_on(
    tmp_path, messages
):
    env = worker_environment(tmp_path)
    workers = [start_worker(env, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        half = messages // 2
        producers = [
            subprocess.Popen(
                [sys.executable, "-c", PRODUCE, str(first), str(half)], cwd=ROOT, env=env
            )
            for first in (0, half)
        ]
        # Meanwhile, something else drops a broken message file into the queue.
        queue = tmp_path / "var" / "broker" / "queue"
        deadline = time.monotonic() + 30
        while not queue.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (queue / "1_broken.celery.msg").write_text(json.dumps({"body": "x"})[:9])
        assert [producer.wait(timeout=120) for producer in producers] == [0, 0]
        notes = tmp_path / "notes.txt"
        deadline = time.monotonic() + 120
        while sum(delivered(notes).values()) < messages and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # a duplicate would arrive now
        counts = delivered(notes)
        assert set(counts) == set(range(messages))
        assert set(counts.values()) == {1}
        assert [worker.poll() for worker in workers] == [None, None]  # both still running
        assert [p.name for p in (tmp_path / "var" / "broker" / "corrupt").iterdir()] == [
            "1_broken.celery.msg"
        ]
        logs = "".join((tmp_path / f"worker-{n}.log").read_text() for n in range(2))
        assert "1_broken.celery.msg can't be decoded" in logs
        assert "Unrecoverable error" not in logs
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)

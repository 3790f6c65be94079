"""Hostile request bodies against a real gunicorn (the production server, gthread workers), with
the bytes of each body the portal read counted at the WSGI boundary (`counting_wsgi.py`): every
upload URL, signed in and not, gets a multi-file and an oversized body, a slow and a lying one;
one link hammers Start and upload; and the portal runs behind a simulated proxy (issue 12).

gunicorn itself may read up to 64 KB more of a refused body before it closes the connection
(its keep-alive drain is capped), so a refusal costs at most PEEK + 64 KB, well under 1 MB.
"""

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, RequestFactory

from assets import uploads
from tests.security.people import make_invited, make_verified
from tests.simulator_harness import ROOT, free_port
from tests.upload_bodies import CONTENT_TYPE, END, Body, file_head, one_file, two_files
from tests.upload_bodies import field as form_field
from verification import services
from verification.models import LivenessAttempt

MB = 1_000_000
REFUSAL_BUDGET = 1024 * 1024  # the most a refused body may cost (issue 12)
REDIS_DB = "redis://127.0.0.1:6379/1"
CSRF = secrets.token_hex(16)  # a CSRF secret (32 characters) is a valid token for its cookie


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def body_read(self) -> int:
        return int(self.headers["x-body-read"])


def database_url() -> str:
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings["USER"] or "postgres"
    return f"postgres://{user}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@pytest.fixture(scope="module")
def server(
    django_db_setup, django_db_blocker, simulator_process, tmp_path_factory
) -> Iterator[int]:
    """gunicorn serving the portal on a free port, two workers with threads, behind one proxy."""
    try:
        redis.Redis.from_url(REDIS_DB, socket_timeout=2).flushdb()
    except redis.RedisError as error:
        pytest.skip(f"Redis is needed for the cross-process limits: {error}")
    port = free_port()
    with django_db_blocker.unblock():
        url = database_url()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_DB,
        "CELERY_BROKER_URL": "memory://",
        "DEBUG": "",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "TRUSTED_PROXY_COUNT": "1",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "ASSET_UPLOAD_IDLE_SECONDS": "2",
        "ASSET_UPLOAD_READ_SECONDS": "5",
        "PERSON_UPLOADS_PER_HOUR": "5",
        "LOG_FORMAT": "plain",
    }
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "tests.security.counting_wsgi:application",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(port, "GET", "/healthz").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"gunicorn did not start; see {log_path}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(autouse=True)
def _committed(ledger_transactional):
    """The gunicorn processes see only committed rows: these tests commit (and flush after)."""


@pytest.fixture(autouse=True)
def _fresh_counters():
    redis.Redis.from_url(REDIS_DB).flushdb()


def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: Body | None = None,
    pause_after: int | None = None,
    trickle: float | None = None,
    timeout: float = 30,
) -> Answer:
    """One request on its own connection. The body is sent from a thread while the answer is
    awaited, and stops when the answer comes (as a real client's would, more or less).
    `pause_after`: send that many bytes, then go silent. `trickle`: 100 bytes per that many s."""
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    if body is not None:
        lines += [f"Content-Length: {body.declared}", f"Content-Type: {CONTENT_TYPE}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    answered = threading.Event()

    def send() -> None:
        sent = 0
        try:
            while body is not None and not answered.is_set():
                size = 100 if trickle else 64 * 1024
                chunk = body.read(size)
                if not chunk:
                    return
                if pause_after is not None and sent + len(chunk) > pause_after:
                    sock.sendall(chunk[: pause_after - sent])
                    answered.wait(timeout)
                    return
                sock.sendall(chunk)
                sent += len(chunk)
                if trickle:
                    time.sleep(trickle)
        except OSError:
            return  # the server closed the connection: the point of most of these tests

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    try:
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            received += data
            head, separator, rest = received.partition(b"\r\n\r\n")
            if separator:
                length = [
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(rest) >= length[0]:
                    break
    finally:
        answered.set()
        sock.close()
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers_out = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers_out[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers_out, rest, time.monotonic() - started)


@pytest.fixture
def world(account, project, consent_text, staff_user):
    alice = make_verified(
        "Alice Example",
        account=account,
        project=project,
        consent_text=consent_text,
        staff_user=staff_user,
    )
    staff = Client()
    staff.force_login(staff_user)
    return alice, staff.cookies["sessionid"].value


def cookies(session: str = "") -> dict[str, str]:
    jar = f"csrftoken={CSRF}" + (f"; sessionid={session}" if session else "")
    return {"Cookie": jar, "X-CSRFToken": CSRF, "Accept": "application/json"}


def body_of_length(total: int) -> Body:
    head, tail = file_head("files", "clip.mp4"), b"\r\n" + END
    return Body(head, total - len(head) - len(tail), tail)


def upload_targets(world) -> list[tuple[str, str, dict[str, str]]]:
    """Every upload URL, as someone who may use it and as someone who may not."""
    alice, session = world
    staff_url = f"/groups/{alice.group.pk}/upload/"
    person_url = f"/p/{alice.token}/upload/"
    unknown = f"/p/{secrets.token_urlsafe(32)}/upload/"
    return [
        ("staff, signed in", staff_url, cookies(session)),
        ("staff, not signed in", staff_url, cookies()),
        ("person, live link", person_url, cookies()),
        ("person, unknown link", unknown, cookies()),
    ]


def upload_url_names() -> set[str]:
    """Every URL served by an upload endpoint (`assets.uploads.upload_endpoint`)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found = set()

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and getattr(
                pattern.callback, "upload_endpoint", False
            ):
                found.add(f"{namespace}{pattern.name}")

    walk(get_resolver().url_patterns)
    return found


def test_every_upload_url_is_in_the_sweep():
    assert upload_url_names() == {"assets:upload", "person_assets:upload"}


def test_multi_file_and_oversized_bodies_cost_at_most_a_read_buffer(server, world):
    over = uploads.body_limit() + 1
    assert body_of_length(over).length == over
    wrong = []
    for who, url, headers in upload_targets(world):
        bodies = {
            "4 × 50 MB": Body(
                *[part for n in range(4) for part in (file_head("files", f"{n}.mp4"), 50 * MB)]
            ),
            "declares 300 MB, sends it": one_file(300 * MB),
            "one byte over the limit": body_of_length(over),
        }
        for name, body in bodies.items():
            answer = request(server, "POST", url, headers=headers, body=body)
            if answer.status < 300 or answer.status >= 500 or answer.body_read > REFUSAL_BUDGET:
                wrong.append(f"{who}, {name}: {answer.status}, read {answer.body_read} bytes")
    assert not wrong, "\n".join(wrong)


def test_two_small_files_are_refused_after_the_first(server, world):
    for who, url, headers in upload_targets(world):
        answer = request(server, "POST", url, headers=headers, body=two_files(200_000))
        assert answer.status in (302, 400, 403, 404), (who, answer.status)
        assert answer.body_read <= REFUSAL_BUDGET, who
        if who in ("staff, signed in", "person, live link"):
            assert answer.status == 400 and b"one file" in answer.body


def test_without_the_csrf_token_a_signed_in_upload_is_not_read(server, world):
    alice, session = world
    headers = {"Cookie": f"csrftoken={CSRF}; sessionid={session}", "Accept": "application/json"}
    for url in (f"/groups/{alice.group.pk}/upload/", f"/p/{alice.token}/upload/"):
        answer = request(server, "POST", url, headers=headers, body=one_file(40 * MB))
        assert answer.status == 403
        assert answer.body_read <= uploads.PEEK_BYTES


def test_a_lying_or_trickling_body_is_cut_off_by_the_deadline(server, world):
    alice, session = world
    url = f"/groups/{alice.group.pk}/upload/"
    # Declares 40 MB, sends 1 MB, then goes silent: cut off at the idle time (2 s here).
    lying = request(
        server, "POST", url, headers=cookies(session), body=one_file(40 * MB), pause_after=MB
    )
    assert lying.status == 408 and lying.seconds < 10
    assert b"stopped arriving" in lying.body
    # 100 bytes every half second never trips the idle time; the whole-body deadline (5 s) ends it.
    trickle = request(server, "POST", url, headers=cookies(session), body=one_file(MB), trickle=0.5)
    assert trickle.status == 408 and trickle.seconds < 12


def test_one_link_hammering_start_makes_one_billed_call(
    server, account, project, consent_text, staff_user, simulator
):
    token, session = make_invited(
        "Dora Example",
        account=account,
        project=project,
        consent_text=consent_text,
        staff_user=staff_user,
    )
    services.give_consent(
        session=session,
        signature_name="Dora Example",
        request=RequestFactory().post("/", REMOTE_ADDR="198.51.100.4"),
    )
    before = len(simulator.requests_for("CreateVisualValidateSession"))
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(
                lambda _: request(server, "POST", f"/p/{token}/start/", headers=cookies()),
                range(60),
            )
        )
    statuses = [answer.status for answer in answers]
    assert statuses.count(302) == 1 and set(statuses) == {302, 429}, statuses
    assert len(simulator.requests_for("CreateVisualValidateSession")) == before + 1
    assert LivenessAttempt.objects.filter(session=session).count() == 1


def test_one_link_hammering_upload_is_held_to_its_hourly_share(server, world):
    alice, _ = world
    url = f"/p/{alice.token}/upload/"
    statuses = []
    for n in range(8):
        body = Body(
            form_field("csrfmiddlewaretoken", CSRF),
            file_head("files", f"{n}.jpg", "image/jpeg"),
            b"not really a photo",
            b"\r\n",
            b"--" + CONTENT_TYPE.split("=", 1)[1].encode() + b"--\r\n",
        )
        statuses.append(request(server, "POST", url, headers=cookies(), body=body).status)
    assert statuses == [422] * 5 + [429] * 3


def test_behind_the_proxy_one_clients_bad_links_lock_out_only_that_client(server, world):
    alice, _ = world
    receipt = f"/p/{alice.token}/receipt.json"
    prober = {"X-Forwarded-For": "198.51.100.66"}
    for n in range(20):
        path = f"/p/{secrets.token_urlsafe(32)}/"
        assert request(server, "GET", path, headers=prober).status == 404, n
    assert request(server, "GET", receipt, headers=prober).status == 429
    # Everyone else reaches their link through the same proxy.
    assert request(server, "GET", receipt, headers={"X-Forwarded-For": "203.0.113.7"}).status == 200
    # And a forged X-Forwarded-For can't escape the lock by claiming another address to the
    # proxy: the proxy appends the real peer, which is the hop the portal takes.
    forged = {"X-Forwarded-For": "203.0.113.99, 198.51.100.66"}
    assert request(server, "GET", receipt, headers=forged).status == 429


def test_staff_pages_are_not_stored_by_any_cache(server, world):
    _, session = world
    answer = request(server, "GET", "/persons/", headers={"Cookie": f"sessionid={session}"})
    assert answer.status == 200 and "no-store" in answer.headers["cache-control"]


def test_a_staff_user_without_the_staff_flag_costs_no_read(server, world):
    member = get_user_model().objects.create_user(username="member", password="x" * 16)
    client = Client()
    client.force_login(member)
    alice, _ = world
    answer = request(
        server,
        "POST",
        f"/groups/{alice.group.pk}/upload/",
        headers=cookies(client.cookies["sessionid"].value),
        body=one_file(40 * MB),
    )
    assert answer.status == 403 and answer.body_read == 0


def test_a_large_body_to_any_other_post_url_is_refused_unread(server, world):
    alice, session = world
    paths = [
        ("/login/", ""),
        (f"/p/{alice.token}/consent/", ""),
        (f"/p/{alice.token}/start/", ""),
        (f"/p/{alice.token}/withdraw/", ""),
        (f"/verified/{alice.attempt.ref}/retry/", ""),
        ("/persons/new/", session),
        (f"/sessions/{alice.session.pk}/cancel/", session),
    ]
    wrong = []
    for path, staff in paths:
        answer = request(server, "POST", path, headers=cookies(staff), body=two_files(100 * MB))
        if answer.status != 413 or answer.body_read:
            wrong.append(f"{path}: {answer.status}, read {answer.body_read} bytes")
    assert not wrong, "\n".join(wrong)

"""The load generator: Locust users, one class per scenario, run phase after phase as a library.

Started by `python -m benchmarks.load` in its own process (Locust patches the standard library
with gevent on import). Reads a JSON plan, writes JSON results: every request's latency, by phase.

Run: python -m benchmarks.load.drive PLAN.json RESULTS.json
"""

import itertools
import json
import random
import secrets
import string
import sys
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import gevent
from locust import HttpUser, constant, constant_throughput, task
from locust.env import Environment
from locust.exception import StopUser

# A CSRF secret of our own choosing: sent as the cookie and as the form field or header.
CSRF = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 load-test"


class Portal(HttpUser):
    """Cookies are sent by hand: the portal marks them Secure, and this runs over plain HTTP on
    the loopback, where a client keeps Secure cookies to itself."""

    abstract = True
    wait_time = constant(0)
    plan: dict[str, Any] = {}
    period = 0.0  # seconds between one user's requests in a fixed-rate phase

    def on_start(self) -> None:
        # Locust starts a phase's users in one batch, so paced users would all send in the same
        # instant, once a period: a burst, not a rate. A random start within the period spreads
        # their requests evenly.
        if self.period:
            gevent.sleep(random.uniform(0, self.period))

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Origin": self.host or "", "Referer": f"{self.host}/", **extra}


class Baseline(Portal):
    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="baseline /healthz")


class StaffPages(Portal):
    pages: itertools.cycle

    @task
    def page(self) -> None:
        name, path = next(self.pages)
        cookie = f"sessionid={self.plan['sessionid']}"
        with self.client.get(
            path, name=name, headers={"Cookie": cookie}, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.headers.get('Location', '')}")


class LinkPage(Portal):
    tokens: itertools.cycle

    @task
    def open_link(self) -> None:
        token = next(self.tokens)
        self.client.get(f"/p/{token}/", name="person link page", headers={"User-Agent": PHONE})


class Consent(Portal):
    pool: deque

    @task
    def consent(self) -> None:
        try:
            person = self.pool.popleft()
        except IndexError:
            raise StopUser() from None
        with self.client.post(
            f"/p/{person['token']}/consent/",
            data={"signature_name": person["name"], "agree": "on", "csrfmiddlewaretoken": CSRF},
            headers=self.headers(Cookie=f"csrftoken={CSRF}", **{"User-Agent": PHONE}),
            name="consent POST",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"{response.status_code}: {response.text[:200]!r}")


class Upload(Portal):
    files: deque

    @task
    def upload(self) -> None:
        try:
            name, body, boundary = self.files.popleft()
        except IndexError:
            raise StopUser() from None
        cookie = f"sessionid={self.plan['sessionid']}; csrftoken={CSRF}"
        with (
            open(body, "rb") as stream,
            self.client.post(
                f"/groups/{self.plan['group_id']}/upload/",
                data=stream,
                headers=self.headers(
                    Cookie=cookie,
                    Accept="application/json",
                    **{
                        "X-CSRFToken": CSRF,
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                    },
                ),
                name=name,
                catch_response=True,
            ) as response,
        ):
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:300]!r}")


def multipart_body(path: Path) -> tuple[Path, str]:
    """The whole request body on disk, so a 50 MB upload streams from a file."""
    boundary = uuid.uuid4().hex
    body = path.with_name(path.name + ".body")
    with body.open("wb") as out, path.open("rb") as source:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        while chunk := source.read(1 << 20):
            out.write(chunk)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    return body, boundary


SCENARIOS = {
    "baseline": Baseline,
    "staff": StaffPages,
    "link": LinkPage,
    "consent": Consent,
    "upload": Upload,
}


def run_phase(phase: dict[str, Any], host: str, latencies: list[dict[str, Any]]) -> dict[str, Any]:
    user_class = SCENARIOS[phase["scenario"]]
    rate = phase.get("rate")
    user_class.wait_time = constant_throughput(rate / phase["users"]) if rate else constant(0)
    user_class.period = phase["users"] / rate if rate else 0.0
    env = Environment(user_classes=[user_class], host=host)
    errors: dict[str, int] = {}

    def on_request(request_type, name, response_time, response_length, exception, **_: Any):
        latencies.append(
            {"phase": phase["name"], "name": name, "ms": response_time, "ok": exception is None}
        )
        if exception is not None:
            key = str(exception)[:160]
            errors[key] = errors.get(key, 0) + 1

    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    started = time.time()
    runner.start(phase["users"], spawn_rate=phase["users"])
    deadline = time.monotonic() + phase["seconds"]
    gevent.sleep(0.5)
    while time.monotonic() < deadline and runner.user_count > 0:
        gevent.sleep(0.1)
    runner.quit()
    ended = time.time()
    settle(host)
    return {**phase, "started": started, "ended": ended, "errors": errors}


def settle(host: str) -> None:
    """Let the server drain what the last phase queued, so the next phase starts clean."""
    import requests

    gevent.sleep(1)
    for _ in range(100):
        began = time.monotonic()
        requests.get(f"{host}/healthz", timeout=30)
        if time.monotonic() - began < 0.05:
            return
        gevent.sleep(0.2)


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    host = plan["host"]
    Portal.plan = plan
    staff_pages = [("staff dashboard", "/"), ("staff persons", "/persons/")]
    staff_pages += [("staff session page", f"/sessions/{pk}/") for pk in plan["session_ids"][:20]]
    staff_pages += [("staff group page", f"/groups/{plan['group_id']}/")]
    StaffPages.pages = itertools.cycle(staff_pages)
    LinkPage.tokens = itertools.cycle(plan["link_tokens"])
    Consent.pool = deque(plan["consents"])
    big = [multipart_body(Path(path)) for path in plan["media"]["big"]]
    mixed = [(Path(p).suffix, *multipart_body(Path(p))) for p in plan["media"]["mixed"]]

    results: list[dict[str, Any]] = []
    latencies: list[dict[str, Any]] = []
    for phase in plan["phases"]:
        if phase["scenario"] == "upload":
            if phase["name"].startswith("5 concurrent"):
                files = [("upload 50 MB video", *big[0])] * phase["count"]
            else:
                cycle = itertools.cycle(mixed)
                files = [
                    (f"upload mixed{suffix}", body, boundary)
                    for suffix, body, boundary in itertools.islice(cycle, phase["count"])
                ]
            Upload.files = deque(files)
        results.append(run_phase(phase, host, latencies))
        print(f"  {phase['name']}: done", file=sys.stderr, flush=True)
    Path(sys.argv[2]).write_text(json.dumps({"phases": results, "latencies": latencies}))


if __name__ == "__main__":
    main()

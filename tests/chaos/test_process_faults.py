"""Process-level chaos: the real web, worker and beat processes on a private PostgreSQL and Redis,
driven over HTTP through full journeys while the simulator injects upstream faults and the harness
kills a worker mid-forward, stops Redis for a minute, restarts PostgreSQL and blackholes the
upstream. Afterwards nothing acknowledged is lost, nothing is duplicated upstream, nothing is stuck,
no page failed with a server error, and the ledger verifies.

The in-process soak (`test_soak.py`) checks the same invariants step by step; this one checks that
they hold when the processes themselves fail. `CHAOS_REDIS_DOWN_SECONDS` shortens the Redis outage
for local iteration; CI uses the full minute.
"""

import contextlib
import json
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.chaos.actors import (
    CSRF,
    LINK,
    Journey,
    Staff,
    Timeline,
    Traffic,
    consent_acknowledged,
)
from tests.chaos.cluster import (
    MissingProgram,
    Portal,
    PrivatePostgres,
    PrivateRedis,
    portal_environment,
    tail,
    wait_until,
)
from tests.chaos.faults import FAULTS
from tests.simulator_harness import Simulator, free_port, start_simulator, stop_simulator

pytestmark = pytest.mark.chaos

REDIS_DOWN_SECONDS = float(os.environ.get("CHAOS_REDIS_DOWN_SECONDS", "60"))
BLACKHOLE_SECONDS = 20
SETTLE_SECONDS = 240
FAULT_RATE = 0.5  # the chance of one more upstream fault at each step of the drive
UNFINISHED_ASSETS = {"received", "validated", "forwarding", "processing"}


class Upstream:
    """The simulator process. While blackholed (SIGSTOP) the kernel still accepts connections but
    nothing answers, as with a peer behind a dropped route; its control API is not called then."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.blackholed = False

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        assert not self.blackholed, "the simulator is stopped"
        return self.simulator.control(method, path, **kwargs)

    def blackhole(self) -> None:
        os.kill(self.simulator.process.pid, signal.SIGSTOP)
        self.blackholed = True

    def restore(self) -> None:
        os.kill(self.simulator.process.pid, signal.SIGCONT)
        self.blackholed = False


@dataclass
class Cluster:
    folder: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    upstream: Upstream
    portal: Portal
    seeded: dict[str, Any]
    timeline: Timeline


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    timeline = Timeline()
    with contextlib.ExitStack() as cleanup:
        try:
            postgres = PrivatePostgres()
            cleanup.callback(postgres.destroy)
            redis_server = PrivateRedis(tmp_path)
        except MissingProgram as missing:
            pytest.skip(f"the process-level chaos test needs it: {missing}")
        cleanup.callback(redis_server.stop)
        postgres.start()
        postgres.create_database("sitter")
        redis_server.start()
        (tmp_path / "simulator").mkdir()
        simulator = start_simulator(tmp_path / "simulator")
        upstream = Upstream(simulator)
        cleanup.callback(stop_simulator, simulator)
        # A stopped simulator would ignore the SIGTERM that stops it.
        cleanup.callback(upstream.restore)
        simulator.reset()
        upstream.control("POST", "switches", json={"processing_seconds": 2})
        port = free_port()
        env = portal_environment(
            tmp_path,
            database_url=postgres.url("sitter"),
            redis_url=redis_server.url,
            port=port,
            simulator=simulator,
        )
        portal = Portal(tmp_path, env, f"http://127.0.0.1:{port}")
        cleanup.callback(portal.stop_all)
        portal.python("manage.py", "migrate", "--no-input")
        portal.python("manage.py", "collectstatic", "--no-input")
        seeded = portal.json(
            "-m", "tests.chaos.portal_state", "seed", simulator.url, simulator.token, "9"
        )
        web = portal.start("web")
        worker = portal.start("worker")
        portal.start("beat")
        portal.wait_for_web(web)
        portal.wait_for_worker(worker)
        timeline.note("cluster up")
        yield Cluster(tmp_path, postgres, redis_server, upstream, portal, seeded, timeline)


class Scenario:
    """Drives the journeys through the phases and keeps what the checks need."""

    def __init__(self, cluster: Cluster, media: Any) -> None:
        self.cluster = cluster
        self.portal = cluster.portal
        self.upstream = cluster.upstream
        self.timeline = cluster.timeline
        self.traffic = Traffic(cluster.portal.base_url, cluster.timeline)
        self.staff = Staff(self.traffic, cluster.seeded["sessionid"], cluster.seeded)
        self.rng = random.Random(20261126)
        self.files = [(media.image((800, 1000)), "portrait.jpg"), (media.wav(3.0), "voice.wav")]
        self.journeys: list[Journey] = []
        self.invited_by_email: list[str] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.last: dict[str, Any] = {}
        self.fault_rate = 0.0
        self.killed_mid_forward: list[int] = []
        self.other_uploads: list[int] = []  # statuses of uploads outside the journeys' own
        self.phase_started = time.monotonic()

    # --- the phases ---------------------------------------------------------------------------

    def play(self) -> None:
        with self.browsing(browsers=1, pause=0.5):
            self.phase("journeys")
            self.fault_rate = FAULT_RATE
            for number in range(4):
                self.begin(number)
            self.drive_until(lambda: self.uploaded() >= 2, seconds=180, what="two groups uploaded")
            self.kill_worker_mid_forward()
            self.stop_redis()
            self.restart_postgres()
            self.blackhole_upstream()
            self.phase("recovery")
            self.upstream.control("DELETE", "faults")  # the storm is over
            self.drive_until(
                lambda: not self.unsettled(), seconds=SETTLE_SECONDS, what="everything settled"
            )

    def kill_worker_mid_forward(self) -> None:
        self.phase("worker killed mid-forward")
        self.fault_rate = 0.0
        self.upstream.control("DELETE", "faults")
        self.upstream.control(
            "POST", "faults", json={"action": "CreateAsset", "kind": "hang", "seconds": 30}
        )
        response = self.staff.upload(self.some_group(), self.files[0][0], "taken-over.jpg")
        assert response is not None and response.status_code == 201, response
        self.other_uploads.append(response.status_code)
        wait_until(
            lambda: not self.upstream.control("GET", "faults")["faults"],
            seconds=60,
            what="a CreateAsset to reach the upstream",
        )
        worker = self.portal.running("worker")
        worker.signal(signal.SIGKILL)
        worker.process.wait()
        self.timeline.note("worker killed (SIGKILL) while a CreateAsset hangs at the upstream")
        snapshot = self.snapshot()
        assert snapshot is not None
        self.killed_mid_forward = [
            a["id"] for a in snapshot["assets"] if a["status"] == "forwarding"
        ]
        assert self.killed_mid_forward, "no asset was being forwarded when the worker died"
        self.portal.wait_for_worker(self.portal.start("worker"))
        self.timeline.note(f"fresh worker ready; assets left forwarding: {self.killed_mid_forward}")

    def stop_redis(self) -> None:
        self.phase("redis down")
        self.fault_rate = FAULT_RATE
        self.cluster.redis.stop()
        self.timeline.note("Redis stopped")
        response = self.staff.upload(self.some_group(), self.files[0][0], "during-outage.jpg")
        self.timeline.note(f"staff upload: {answer(response)}")
        if response is not None:
            self.other_uploads.append(response.status_code)
        self.begin(4)
        self.begin(5)
        response = self.staff.start_session(self.person("Chaos Person 6"), "email")
        self.timeline.note(f"staff invite: {answer(response)}")
        self.invited_by_email.append("Chaos Person 6")
        self.drive_for(REDIS_DOWN_SECONDS - (time.monotonic() - self.phase_started))
        self.cluster.redis.start()
        self.timeline.note("Redis back (empty: queued messages lost)")

    def restart_postgres(self) -> None:
        self.phase("postgres restart")
        self.drive_for(3)
        # Requests in flight and arriving while it restarts (it takes a fraction of a second).
        with self.browsing(browsers=4, pause=0):
            time.sleep(1)
            self.cluster.postgres.restart()
            self.timeline.note("PostgreSQL restarted (fast)")
            time.sleep(2)
        self.drive_for(10)

    def blackhole_upstream(self) -> None:
        self.phase("upstream blackholed")
        self.fault_rate = 0.0
        # Work due at the upstream when it falls silent: a liveness result to fetch, a file to send.
        self.begin(7)
        finished_liveness = self.journeys[-1]
        self.drive_until(
            lambda: bool(finished_liveness.callback), seconds=60, what="liveness to be finished"
        )
        response = self.staff.upload(self.some_group(), self.files[1][0], "before-silence.wav")
        assert response is not None and response.status_code == 201, response
        self.other_uploads.append(response.status_code)
        self.upstream.blackhole()
        self.timeline.note("simulator stopped (SIGSTOP)")
        self.begin(8)  # consents while the upstream is silent
        try:
            self.drive_for(BLACKHOLE_SECONDS)
        finally:
            self.upstream.restore()
            self.timeline.note("simulator continued (SIGCONT)")

    # --- driving ------------------------------------------------------------------------------

    def phase(self, name: str) -> None:
        self.traffic.phase = name
        self.phase_started = time.monotonic()
        self.timeline.note(f"--- {name}")

    def some_group(self) -> int:
        return int(next(s["group"] for s in self.sessions.values() if s["group"]))

    def person(self, name: str) -> int:
        return int(self.cluster.seeded["persons"][name])

    def begin(self, number: int) -> None:
        name = f"Chaos Person {number}"
        self.journeys.append(
            Journey.for_person(self.traffic, name, self.person(name), calls_back=number % 2 == 1)
        )

    def drive_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.step()
            time.sleep(0.5)

    def drive_until(self, done: Callable[[], bool], *, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not (self.step() and done()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {seconds:.0f} s")
            time.sleep(1)

    def step(self) -> bool:
        """Move every journey on by one step; False when the portal's state could not be read."""
        if self.snapshot() is None:
            return False
        upstream_sessions = {} if self.upstream.blackholed else self.upstream_sessions()
        if self.fault_rate and self.rng.random() < self.fault_rate:
            action, fault = self.rng.choice(FAULTS)
            self.upstream.control("POST", "faults", json={"action": action, **fault})
        for journey in self.journeys:
            self.advance(journey, upstream_sessions)
        return True

    def advance(self, journey: Journey, upstream_sessions: dict[str, str]) -> None:
        session = self.sessions.get(journey.name, {})
        status = session.get("status", "")
        if not journey.link:
            response = self.staff.start_session(journey.person, "in_person")
            found = LINK.search(response.text) if response is not None else None
            if found and response is not None and response.status_code == 200:
                journey.link = found.group(0)
        elif not journey.acknowledged:
            response = self.traffic.send(
                journey.phone,
                "POST",
                f"{journey.link}consent/",
                "consent POST",
                data={
                    "signature_name": journey.name,
                    "agree": "on",
                    "csrfmiddlewaretoken": CSRF,
                },
            )
            if response is not None and consent_acknowledged(response):
                journey.acknowledged = True
                journey.h5 = self.upstream_page(response)
        elif status in ("consented", "failed") and not journey.h5:
            response = self.traffic.send(
                journey.phone,
                "POST",
                f"{journey.link}start/",
                "start liveness",
                data={"csrfmiddlewaretoken": CSRF},
            )
            if response is not None:
                journey.h5 = self.upstream_page(response)
        elif journey.h5 and not journey.callback and not self.upstream.blackholed:
            if token := upstream_sessions.get(urlsplit(journey.h5).path):
                answer = self.upstream.control(
                    "POST", f"sessions/{token}/complete", json={"result_code": 10000}
                )
                journey.callback = str(answer["callback_url"])
        elif journey.callback and journey.calls_back and not journey.called_back:
            path = journey.callback.removeprefix(self.portal.base_url)
            response = self.traffic.send(journey.phone, "GET", path, "liveness callback")
            journey.called_back = response is not None and response.status_code == 200
        elif status == "verified" and session["group"] and len(journey.uploads) < len(self.files):
            path, name = self.files[len(journey.uploads)]
            response = self.staff.upload(session["group"], path, f"{journey.name} {name}")
            if response is not None and response.status_code in (201, 422):
                journey.uploads.append(response.status_code)

    def upstream_page(self, response: requests.Response) -> str:
        location = response.headers.get("Location", "")
        return location if response.status_code == 302 and "/h5/" in location else ""

    def upstream_sessions(self) -> dict[str, str]:
        """H5 page (path; the phone's link adds its language) → BytedToken, for finishing liveness
        as the person would."""
        state = self.upstream.control("GET", "state")
        return {
            urlsplit(session["h5_link"]).path: session["byted_token"]
            for credential in state["credentials"].values()
            for session in credential["sessions"]
        }

    def snapshot(self) -> dict[str, Any] | None:
        try:
            snapshot: dict[str, Any] = self.portal.json(
                "-m", "tests.chaos.portal_state", "snapshot"
            )
        except (RuntimeError, json.JSONDecodeError) as error:
            self.timeline.note(f"snapshot failed: {str(error).splitlines()[0]}")
            return None
        self.last = snapshot
        self.sessions = {s["person"]: s for s in snapshot["sessions"]}
        return snapshot

    @contextlib.contextmanager
    def browsing(self, *, browsers: int, pause: float) -> Iterator[None]:
        """Browsers opening a staff page and a person's page over and over meanwhile: what each
        fault does to the people using the portal at that moment."""
        stop = threading.Event()
        threads = [
            threading.Thread(target=self.browse, args=(stop, pause), daemon=True)
            for _ in range(browsers)
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

    def browse(self, stop: threading.Event, pause: float) -> None:
        browser = requests.Session()
        browser.cookies.set("sessionid", self.cluster.seeded["sessionid"])
        while not stop.is_set():
            self.traffic.send(browser, "GET", "/", "browse staff dashboard")
            if self.journeys and (link := self.journeys[0].link):
                self.traffic.send(browser, "GET", link, "browse person link page")
            stop.wait(pause)

    # --- conditions -----------------------------------------------------------------------------

    def uploaded(self) -> int:
        return sum(len(journey.uploads) == len(self.files) for journey in self.journeys)

    def unsettled(self) -> list[str]:
        """What is still under way; nothing once everything has settled."""
        waiting = [
            f"{journey.name} not through"
            for journey in self.journeys
            if len(journey.uploads) < len(self.files)
            or (journey.calls_back and not journey.called_back)
        ]
        waiting += [
            f"asset {a['id']} {a['status']}"
            for a in self.last["assets"]
            if a["status"] in UNFINISHED_ASSETS
        ]
        waiting += [
            f"{count} invitation(s) {status}"
            for status, count in self.last["invitations"].items()
            if status in ("pending", "sending")
        ]
        if self.last["unsent_receipts"]:
            waiting.append(f"{self.last['unsent_receipts']} receipt(s) unsent")
        if self.last["pending_attempts_of_closed_sessions"]:
            waiting.append("liveness attempts of closed sessions still pending")
        return waiting

    # --- reporting --------------------------------------------------------------------------------

    def report(self) -> str:
        logs = sorted((self.cluster.folder / "logs").glob("*.log"))
        logs += [
            self.cluster.folder / "simulator" / "simulator.log",
            self.cluster.redis.log,
            self.cluster.postgres.log,
        ]
        tails = "\n\n".join(f"== {path.name} (last lines)\n{tail(path)}" for path in logs)
        journeys = "\n".join(
            f"  {j.name}: link={bool(j.link)} acknowledged={j.acknowledged} "
            f"h5={bool(j.h5)} callback={bool(j.callback)} called_back={j.called_back} "
            f"uploads={j.uploads} status={self.sessions.get(j.name, {}).get('status')}"
            for j in self.journeys
        )
        assets = "\n".join(f"  {asset}" for asset in self.last.get("assets", []))
        rest = {key: value for key, value in self.last.items() if key not in ("assets", "sessions")}
        errors = Counter(
            str(problem)[:300]
            for role in ("web", "worker", "beat")
            for problem in logged_problems(self.portal, role)
        )
        error_lines = "\n".join(f"  {count} × {error}" for error, count in errors.items())
        return (
            f"== timeline\n{self.timeline.render()}\n\n== journeys\n{journeys}\n\n"
            f"== still under way\n{self.unsettled() if self.last else '?'}\n\n"
            f"== assets\n{assets}\n\n== the rest of the last snapshot\n{rest}\n\n"
            f"== traffic by phase\n{self.traffic.render()}\n\n"
            f"== errors logged\n{error_lines}\n\n"
            f"{tails}"
        )


def answer(response: requests.Response | None) -> str:
    return "no answer" if response is None else str(response.status_code)


@dataclass(frozen=True)
class Problem:
    """An error line or a traceback in a process's log."""

    what: str  # "logger: message"
    exc: str  # the traceback, if any

    def __str__(self) -> str:
        return self.what


def logged_problems(portal: Portal, role: str) -> list[Problem]:
    """Error lines and tracebacks the processes of one role logged."""
    problems = []
    for log in sorted((portal.folder / "logs").glob(f"{role}-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if "Traceback" in line:
                    problems.append(Problem(line, line))
                continue
            if entry.get("exc") or entry.get("level") in ("ERROR", "CRITICAL"):
                what = f"{entry.get('logger')}: {entry.get('message')}"
                problems.append(Problem(what, entry.get("exc", "")))
    return problems


def test_journeys_survive_killed_workers_lost_redis_restarted_postgres_and_a_silent_upstream(
    cluster: Cluster, media: Any
) -> None:
    scenario = Scenario(cluster, media)
    try:
        scenario.play()
        scenario.timeline.note("settled; checking")
        snapshot = scenario.last
        traffic = scenario.traffic.by_phase()

        # No page failed with a server error or went unanswered, whatever failed underneath.
        # While PostgreSQL restarted, requests could only be asked to try again shortly (503).
        failed = {
            phase: {
                (what, status): n
                for (what, status), n in counts.items()
                if status >= 500 or status == 0
            }
            for phase, counts in traffic.items()
        }
        unavailable = failed.pop("postgres restart", {})
        assert {status for _, status in unavailable} <= {503}, unavailable
        assert not any(failed.values()), failed
        # Nothing lost: every consent the portal acknowledged is stored, and in the ledger.
        acknowledged = sum(journey.acknowledged for journey in scenario.journeys)
        assert acknowledged == len(scenario.journeys)
        assert acknowledged == snapshot["consents"] == snapshot["consent_events"]
        # Every upload accepted ended Active or Failed with a reason; refused ones have reasons.
        assets = snapshot["assets"]
        statuses = Counter(asset["status"] for asset in assets)
        answers = [status for j in scenario.journeys for status in j.uploads]
        answers += scenario.other_uploads
        assert len(assets) == answers.count(201) + answers.count(422)
        assert set(statuses) <= {"active", "failed", "rejected"}, statuses
        assert all(a["error_message"] for a in assets if a["status"] != "active")
        # The assets whose worker was killed mid-forward were taken over after the lease: sent
        # again, or adopted by their name once the hung CreateAsset had made them upstream. Either
        # way they end Active, and the duplicate check below shows one copy each.
        taken_over = [a for a in assets if a["id"] in scenario.killed_mid_forward]
        assert taken_over and all(a["status"] == "active" for a in taken_over), taken_over
        # Nothing duplicated upstream.
        upstream_state = cluster.upstream.control("GET", "state")
        names = Counter(
            asset["name"]
            for credential in upstream_state["credentials"].values()
            for asset in credential["assets"]
            if not asset["deleted"]
        )
        assert names and max(names.values()) == 1, names.most_common(3)
        assert set(names) == {a["upstream_name"] for a in assets if a["forwarded"]}
        # The invitation and the receipts queued while Redis was down were sent by the sweeps.
        assert snapshot["invitations"].get("sent", 0) == len(scenario.invited_by_email)
        assert snapshot["unsent_receipts"] == 0
        # The ledger verifies. The web logged no error but one for each of those 503s, each the
        # database refusing or dropping a connection.
        cluster.portal.python("manage.py", "verify_audit")
        problems = logged_problems(cluster.portal, "web")
        assert len(problems) == sum(unavailable.values())
        for problem in problems:
            assert problem.what.startswith("django.request: Service Unavailable: "), problem
            assert re.search(r"django\.db\.utils\.(Operational|Interface)Error", problem.exc)
    except BaseException:
        print(scenario.report())
        raise
    print(f"{scenario.timeline.render()}\n\n{scenario.traffic.render()}")

"""Real processes for the process-level chaos test (`test_process_faults.py`).

Everything runs on the loopback from copies of its own, so stopping them disturbs neither the
machine's shared services nor the test runner's database: a PostgreSQL cluster in a temporary
folder, a Redis server without persistence, the upstream simulator, and the portal's web, worker
and beat roles started through `bin/sitter`, as production starts them.
"""

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

from tests.simulator_harness import ROOT, Simulator, free_port

# Variables passed on from the test runner's environment; everything else is set explicitly, so a
# DATABASE_URL or REDIS_URL meant for the test runner never reaches the processes under test.
PASSED_ON = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


class MissingProgram(Exception):
    """A program the test needs is not installed; the message says which."""


def postgres_binaries() -> Path:
    """The newest installed PostgreSQL server's programs (Debian: /usr/lib/postgresql/N/bin)."""
    versions = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if path.parent.parent.name.isdigit()
    ]
    if not versions:
        raise MissingProgram("PostgreSQL server binaries (/usr/lib/postgresql/N/bin) not found")
    return max(versions, key=lambda folder: int(folder.parent.name))


def redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise MissingProgram("redis-server not found")
    return found


def wait_until(condition: Callable[[], object], *, seconds: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy, which is returned."""
    deadline = time.monotonic() + seconds
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.2)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"({error})"
    return "\n".join(line[:500] for line in text.splitlines()[-lines:])


class PrivatePostgres:
    """A throwaway cluster with trust authentication on a free loopback port.

    The server refuses to run as root, so when the test runs as root the cluster belongs to the
    `postgres` user and every server program is run through `runuser`.
    """

    def __init__(self) -> None:
        self.programs = postgres_binaries()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            if shutil.which("runuser") is None:
                raise MissingProgram("runuser not found (needed to run PostgreSQL as root)")
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise MissingProgram("no postgres user to run PostgreSQL as") from None
        # Under /tmp rather than pytest's folder: the owner must be able to reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="sitter-chaos-pg-"))
        if self.as_owner:
            shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.port = free_port()
        self.options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            # Durability is not under test; a restart still drops every connection.
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_owner, str(self.programs / program), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args, action
        )

    def start(self) -> None:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._pg_ctl("start", "-o", self.options)

    def restart(self) -> None:
        """Fast restart: open transactions are rolled back and every connection is dropped."""
        self._pg_ctl("restart", "-m", "fast", "-o", self.options)

    def create_database(self, name: str) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._pg_ctl("stop", "-m", "immediate")
            except RuntimeError as error:
                print(f"stopping the private PostgreSQL: {error}", file=sys.stderr)
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A Redis server that keeps nothing on disk: stopping it loses every queued message, as a
    crashed Redis without persistence would."""

    def __init__(self, folder: Path) -> None:
        self.program = redis_server()
        self.folder = folder
        self.port = free_port()
        self.log = folder / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *[self.program, "--bind", "127.0.0.1", "--port", str(self.port)],
                    *["--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        process = self.process

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"redis-server exited:\n{tail(self.log)}")
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, seconds=20, what="the private Redis to answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class Role:
    """One `bin/sitter` role, running in a process group of its own (celery and gunicorn fork)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def signal(self, number: int) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, number)

    def finish(self, deadline: float) -> None:
        """After SIGTERM: wait until `deadline` (monotonic), then kill what is left of the group,
        children a killed master left behind included (prefork pool, gunicorn workers)."""
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class Portal:
    """The portal's environment and the processes started in it."""

    folder: Path
    env: dict[str, str]
    base_url: str
    roles: list[Role] = field(default_factory=list)

    def run(self, *command: str, timeout: float = 300) -> str:
        """A command in the portal's environment (migrate, seed, inspect); its output."""
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode:
            raise RuntimeError(
                f"{' '.join(command)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        return done.stdout

    def python(self, *args: str, timeout: float = 300) -> str:
        return self.run(sys.executable, *args, timeout=timeout)

    def json(self, *args: str) -> Any:
        return json.loads(self.python(*args, timeout=120))

    def start(self, name: str) -> Role:
        number = sum(role.name == name for role in self.roles) + 1
        log = self.folder / "logs" / f"{name}-{number}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("wb") as output:
            process = subprocess.Popen(
                ["bin/sitter", name],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        role = Role(name, process, log)
        self.roles.append(role)
        return role

    def running(self, name: str) -> Role:
        return next(r for r in reversed(self.roles) if r.name == name and r.process.poll() is None)

    def wait_for_web(self, role: Role) -> None:
        def answers() -> bool:
            if role.process.poll() is not None:
                raise AssertionError(f"the web server exited:\n{tail(role.log)}")
            try:
                return requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(answers, seconds=90, what="the web server to answer")

    def wait_for_worker(self, role: Role) -> None:
        def ready() -> bool:
            if role.process.poll() is not None:
                raise AssertionError(f"the worker exited:\n{tail(role.log)}")
            return " ready." in role.log.read_text(errors="replace")

        wait_until(ready, seconds=90, what="the worker to be ready")

    def stop_all(self) -> None:
        """Stop every process at once (warm shutdown: a task under way may finish), within 20 s."""
        deadline = time.monotonic() + 20
        for role in self.roles:
            role.signal(signal.SIGTERM)
        for role in self.roles:
            role.finish(deadline)


def portal_environment(
    folder: Path, *, database_url: str, redis_url: str, port: int, simulator: Simulator
) -> dict[str, str]:
    """Production settings (DEBUG off, JSON logs), less TLS, with short sweeps and leases so that
    recovery happens within the test's time."""
    base_url = f"http://127.0.0.1:{port}"
    return {
        **{name: os.environ[name] for name in PASSED_ON if name in os.environ},
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SITTER_VAR_DIR": str(folder / "var"),
        "MEDIA_ROOT": str(folder / "media"),
        "STATIC_ROOT": str(folder / "static"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": base_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "WEB_THREADS": "4",
        "WORKER_CONCURRENCY": "2",
        # Plain HTTP on the loopback: no redirect to HTTPS, cookies a client keeps over HTTP.
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        # Mail is taken and dropped; what was sent shows in the database (invitations, receipts).
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "SIMULATOR_URL": simulator.url,
        "ASSET_FORWARDING_MODE": "url",
        "UPSTREAM_CONNECT_TIMEOUT": "2",
        "UPSTREAM_READ_TIMEOUT": "5",
        "ASSET_FORWARD_LEASE_SECONDS": "30",
        "POLL_SWEEP_INTERVAL_SECONDS": "2",
        "ASSET_STATUS_SWEEP_SECONDS": "2",
        "HEARTBEAT_INTERVAL_SECONDS": "5",
        "LINK_FAILURES_ALLOWED": "1000",
    }

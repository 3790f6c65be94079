"""The simulator as a real subprocess on a free port, and helpers to talk to it over HTTP."""

import base64
import hashlib
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.simulator import signer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Simulator:
    url: str
    process: subprocess.Popen[str]
    log_path: Path
    http: requests.Session = field(default_factory=requests.Session)

    # -- control API ---------------------------------------------------------------------------

    def control(self, path: str, body: dict[str, Any] | None = None, method: str = "") -> Any:
        verb = method or ("POST" if body is not None else "GET")
        response = self.http.request(verb, self.url + path, json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def switch(self, **values: Any) -> dict[str, Any]:
        return self.control("/_control/switches", values)

    def advance(self, seconds: float) -> None:
        self.control("/_control/clock", {"advance_seconds": seconds})

    def logged(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{key}={value}" for key, value in filters.items())
        return self.control(f"/_control/requests?{query}")["requests"]

    def owned(self, token: str) -> dict[str, Any]:
        """``/_control/state`` for one Anyfast token: its sessions, groups and assets."""
        credential = "tok_" + hashlib.sha256(token.encode()).hexdigest()[:12]
        return self.control("/_control/state")["credentials"][credential]

    def token(self, group: str = "Byteplus-Direct") -> str:
        token = "sk-test-" + secrets.token_hex(8)
        self.control("/_control/credentials", {"tokens": [{"token": token, "group": group}]})
        return token

    def keypair(self, denied: bool = False) -> tuple[str, str]:
        ak, sk = "AKLT" + secrets.token_hex(6).upper(), secrets.token_urlsafe(24)
        spec = {"access_key_id": ak, "secret_access_key": sk, "denied": denied}
        self.control("/_control/credentials", {"keypairs": [spec]})
        return ak, sk

    # -- adapters ------------------------------------------------------------------------------

    def anyfast(
        self, token: str | None, action: str, body: Any = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs.setdefault("timeout", 10)
        if body is not None:
            kwargs["json"] = body
        return self.http.post(f"{self.url}/volc/asset/{action}", headers=headers, **kwargs)

    def byteplus(
        self, keypair: tuple[str, str], action: str, body: Any, **sign: Any
    ) -> requests.Response:
        path, headers, payload = signer.signed_request(
            host=urlsplit(self.url).netloc,
            action=action,
            body=body,
            access_key_id=keypair[0],
            secret_access_key=keypair[1],
            **sign,
        )
        return self.http.post(self.url + path, headers=headers, data=payload, timeout=10)

    # -- shortcuts -----------------------------------------------------------------------------

    def session(self, token: str, callback: str = "http://127.0.0.1:9/cb") -> dict[str, Any]:
        response = self.anyfast(token, "CreateVisualValidateSession", {"CallbackURL": callback})
        assert response.status_code == 200, response.text
        return response.json()

    def verified_group(self, token: str) -> str:
        byted_token = self.session(token)["BytedToken"]
        done = self.control(f"/_control/sessions/{byted_token}/complete", {"person": "Ann"})
        return done["group_id"]

    def aigc_group(self, token: str, name: str = "virtual people") -> str:
        response = self.anyfast(token, "CreateAssetGroup", {"Name": name, "GroupType": "AIGC"})
        assert response.status_code == 200, response.text
        return response.json()["Id"]

    def upload(
        self, token: str, group_id: str, data: bytes, asset_type: str = "Image", name: str = ""
    ) -> requests.Response:
        body = {
            "GroupId": group_id,
            "Name": name or "upload-" + secrets.token_hex(4),
            "AssetType": asset_type,
            "URL": "data:application/octet-stream;base64," + base64.b64encode(data).decode(),
            "model": "volc-asset",
        }
        return self.anyfast(token, "CreateAsset", body)

    def asset(self, token: str, asset_id: str) -> dict[str, Any]:
        response = self.anyfast(token, "GetAsset", {"Id": asset_id})
        assert response.status_code == 200, response.text
        return response.json()


def start_simulator(state: Path, *args: str, timeout: float = 10.0) -> Simulator:
    log_path = state.with_suffix(".log")
    command = [sys.executable, "-m", "upstream.simulator", "--port", "0", "--state", str(state)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*command, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}\n{log_path.read_text()}")
    return Simulator(url=line.split()[-1], process=process, log_path=log_path)


def stop_simulator(sim: Simulator) -> int:
    sim.http.close()
    sim.process.send_signal(signal.SIGINT)
    try:
        return sim.process.wait(timeout=5)
    finally:
        if sim.process.poll() is None:
            sim.process.kill()
        assert sim.process.stdout is not None
        sim.process.stdout.close()


@pytest.fixture(scope="session")
def sim_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    sim = start_simulator(tmp_path_factory.mktemp("simulator") / "state.sqlite3")
    yield sim
    stop_simulator(sim)


@pytest.fixture
def sim(sim_process: Simulator) -> Simulator:
    """A clean simulator: no credentials, default switches except instant processing."""
    sim_process.control("/_control/reset", {"all": True})
    sim_process.switch(processing_seconds=0)
    return sim_process


@dataclass
class FileServer:
    """Serves ``files`` by path; ``/slow/...`` waits ``delay`` seconds first."""

    url: str
    files: dict[str, bytes] = field(default_factory=dict)
    delay: float = 0.0


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    served = FileServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/slow/"):
                time.sleep(served.delay)
                path = path.removeprefix("/slow")
            data = served.files.get(path)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the simulator gave up on a slow file: a broken pipe here is expected

    server = Server(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served
    server.shutdown()
    server.server_close()

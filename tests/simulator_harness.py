"""Runs the upstream simulator as a real process for tests, and drives its control API."""

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Simulator:
    url: str
    token: str
    aigc_token: str
    access_key_id: str
    secret_access_key: str
    process: subprocess.Popen[bytes]
    seed: dict[str, Any] = field(default_factory=dict)

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/_control/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self.control("POST", "reset")
        self.control("POST", "credentials", json=self.seed)
        self.control("POST", "switches", json={"processing_seconds": 0})

    def complete(self, byted_token: str, result_code: int = 10000) -> str:
        """Finish liveness as the person would; returns the callback URL their phone is sent to."""
        answer = self.control(
            "POST", f"sessions/{byted_token}/complete", json={"result_code": result_code}
        )
        return str(answer["callback_url"])

    def requests_for(self, action: str) -> list[dict[str, Any]]:
        return list(self.control("GET", "requests", params={"action": action})["requests"])


def start_simulator(workdir: Path) -> Simulator:
    port = free_port()
    seed = {
        "tokens": [
            {"token": "sk-test-direct-0123456789", "group": "Byteplus-Direct"},
            {"token": "sk-test-aigc-0123456789", "group": "AIGC"},
        ],
        "keypairs": [{"access_key_id": "AKTEST0123", "secret_access_key": "test-secret-key-0123"}],
    }
    seed_file = workdir / "seed.json"
    seed_file.write_text(json.dumps(seed))
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "upstream.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state",
            str(workdir / "simulator.sqlite3"),
            "--seed-file",
            str(seed_file),
            "--public-url",
            url,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "simulator.log", "wb"),  # noqa: SIM115 (lives as long as the process)
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited: {(workdir / 'simulator.log').read_text()}")
        try:
            requests.get(f"{url}/_control/switches", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("the simulator did not start within 15 s")
    return Simulator(
        url=url,
        token="sk-test-direct-0123456789",
        aigc_token="sk-test-aigc-0123456789",
        access_key_id="AKTEST0123",
        secret_access_key="test-secret-key-0123",
        process=process,
        seed=seed,
    )


def stop_simulator(simulator: Simulator) -> None:
    simulator.process.terminate()
    try:
        simulator.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        simulator.process.kill()

"""Running the upstream simulator for contract tests, and talking to its control API."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from portal.env import BASE_DIR

TOKENS = {
    "main": ("sk-contract-main-7c1e0a9b2d4f", "Byteplus-Direct"),
    "other": ("sk-contract-other-41ad93f07e2b", "Byteplus-Direct"),
    "aigc": ("sk-contract-aigc-0b8e6c2a15d3", "AIGC"),
}
KEYPAIRS = {
    "main": ("AKLTcontractMAIN01", "contract-secret-main/+=01", False),
    "other": ("AKLTcontractOTHER2", "contract-secret-other/+=02", False),
    "denied": ("AKLTcontractDENY03", "contract-secret-denied/+=03", True),
}


@dataclass
class Simulator:
    url: str
    process: subprocess.Popen[str]
    ids: dict[str, str] = field(default_factory=dict)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.url}/_control/{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, **spec: Any) -> None:
        self.control("POST", "faults", spec)

    def switches(self, **values: Any) -> None:
        self.control("POST", "switches", values)

    def complete(self, byted_token: str, result_code: int = 10000) -> dict[str, Any]:
        return self.control(
            "POST", f"sessions/{byted_token}/complete", {"result_code": result_code}
        )

    def advance(self, seconds: float) -> None:
        self.control("POST", "clock", {"advance_seconds": seconds})

    def requests(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return self.control("GET", f"requests?{query}")["requests"]

    def assets(
        self, owner: str, *, name: str | None = None, live: bool = True
    ) -> list[dict[str, Any]]:
        """The assets ``owner`` ("token:main", "key:main", …) has upstream, from the state dump."""
        state = self.control("GET", "state")
        mine = state["credentials"].get(self.ids[owner], {}).get("assets", [])
        return [
            a
            for a in mine
            if (name is None or a["name"] == name) and not (live and (a["deleted"] or a["phantom"]))
        ]


def start(folder: Path) -> Simulator:
    """Start ``python -m upstream.simulator`` on a free port with our seed; wait until it answers."""
    seed = {
        "tokens": [{"token": token, "group": group} for token, group in TOKENS.values()],
        "keypairs": [
            {"access_key_id": ak, "secret_access_key": sk, "denied": denied}
            for ak, sk, denied in KEYPAIRS.values()
        ],
    }
    seed_file = folder / "seed.json"
    seed_file.write_text(json.dumps(seed))
    log = (folder / "simulator.log").open("w")
    command = [
        sys.executable,
        "-m",
        "upstream.simulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--state",
        str(folder / "state.sqlite3"),
        "--seed-file",
        str(seed_file),
    ]
    env = {**os.environ, "PYTHONPATH": str(BASE_DIR)}
    process = subprocess.Popen(
        command, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=log, text=True, env=env
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 20
    line = ""
    while time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline().strip()
            break
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}; see {log.name}")
    sim = Simulator(url=line.removeprefix("listening on "), process=process)
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{sim.url}/_control/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.05)
    registered = sim.control("POST", "credentials", seed)
    labels = [f"token:{t}" for t in TOKENS] + [f"key:{k}" for k in KEYPAIRS]
    for label, item in zip(labels, registered["tokens"] + registered["keypairs"], strict=True):
        sim.ids[label] = item["id"]
    return sim


def stop(sim: Simulator) -> None:
    sim.process.terminate()
    try:
        sim.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sim.process.kill()

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.simulator import samples
from tests.simulator.conftest import ROOT, start_simulator, stop_simulator


def test_state_switches_and_faults_survive_a_restart(tmp_path: Path):
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "tokens": [{"token": "sk-seeded", "group": "Byteplus-Direct"}],
                "switches": {"processing_seconds": 0},
            }
        )
    )
    state = tmp_path / "state.sqlite3"
    sim = start_simulator(state, "--seed-file", str(seed))
    group_id = sim.verified_group("sk-seeded")
    asset_id = sim.upload("sk-seeded", group_id, samples.image()).json()["Id"]
    byted = sim.session("sk-seeded")["BytedToken"]
    sim.switch(video_pixel_range="narrow")
    sim.control("/_control/faults", {"action": "GetAsset", "kind": "error", "count": 1})
    assert stop_simulator(sim) == 0

    again = start_simulator(state)
    try:
        assert again.anyfast("sk-seeded", "GetAsset", {"Id": asset_id}).status_code == 503
        assert again.asset("sk-seeded", asset_id)["Status"] == "Active"
        result = again.anyfast("sk-seeded", "GetVisualValidateResult", {"BytedToken": byted})
        assert result.json() == {"GroupId": ""}
        assert again.control("/_control/switches")["video_pixel_range"] == "narrow"
    finally:
        stop_simulator(again)


def test_it_starts_fast_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    started = time.monotonic()
    sim = start_simulator(tmp_path / "state.sqlite3")
    assert time.monotonic() - started < 3  # typically ~0.3 s; generous for a loaded CI box
    stopping = time.monotonic()
    assert stop_simulator(sim) == 0
    assert time.monotonic() - stopping < 3
    assert "stopped" in sim.log_path.read_text()


def test_a_bad_seed_file_is_refused(tmp_path: Path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"tokens": [{"token": ""}]}))
    state = tmp_path / "s.sqlite3"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "upstream.simulator",
            "--state",
            str(state),
            "--seed-file",
            str(seed),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert finished.returncode == 2 and "bad configuration" in finished.stderr

"""A 50 MB video through the portal, against the same bytes sent straight to the upstream.

1. Upload memory: how far one 44 MB upload lifts the web worker's peak RSS (VmHWM) above its RSS
   before, on the real server (gunicorn, `bin/sitter web`). Target: growth under 30 MB. The
   peak is reset after signing in first: the sign-in's Argon2 hash takes ~100 MB for a moment,
   and a peak that includes it would hide anything the upload needs below it.
2. Upload to forwarded: the upload (checks, metadata removal, queueing) plus the worker's forward
   (face pre-check, CreateAsset), for each forwarding mode, against one CreateAsset of the same
   file sent straight to the simulator. Target: under 1.5x the direct transfer.

Like for like: both sides send the file with the same streaming multipart body
(`upstream.bodies`), from the same process, to servers on the same machine; the portal's web
worker and the simulator each take their bytes off a socket. The runs take turns (direct, then
each mode, round after round), so a burst of load from elsewhere hits every column alike, and
the first round, which loads MediaPipe into the forwarding process and warms the web worker, is
reported apart from the medians.

Run: python -m benchmarks.asset_forwarding [--runs 5]
"""

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks.scratch import django_ready, median

ROOT = Path(__file__).resolve().parents[1]
MODES = ("url", "multipart", "inline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = django_ready("forwarding")
    logging.getLogger("upstream").setLevel(logging.WARNING)  # one line per call, in the table

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from assets import services
    from assets.models import Asset
    from benchmarks.media_validation import _video
    from tests.journey import make_verified_group
    from tests.simulator_harness import free_port, start_simulator, stop_simulator
    from upstream.bodies import multipart
    from upstream.factory import client_for
    from upstream.models import Adapter, UpstreamAccount
    from upstream.types import AssetType, MultipartSource
    from verification.models import AuthorizingPerson, ConsentText, Project

    video = folder / "portrait.mp4"
    _video(video, (1080, 1920), 10, "mp4")
    size_mb = video.stat().st_size / 1e6
    simulator = start_simulator(folder)
    port = free_port()
    server = None
    try:
        simulator.reset()
        account = UpstreamAccount.objects.create(
            name="bench", adapter=Adapter.ANYFAST, base_url=simulator.url, api_token=simulator.token
        )
        staff = get_user_model().objects.create_user(
            "bench", password="bench-password-123", is_staff=True
        )
        staff.groups.set(Group.objects.filter(name="coordinator"))
        person = AuthorizingPerson.objects.create(full_name="Bench Person")
        project = Project.objects.create(name="Bench", intended_use="Benchmarks.")
        text = ConsentText.objects.create(title="Consent", version="1", body="Words.")
        group = make_verified_group(person, account, project, text, staff, simulator)

        server = _start_web(folder, port)
        base = f"http://127.0.0.1:{port}"
        session = _signed_in(base)
        settings.PUBLIC_BASE_URL = base
        client = client_for(account)

        def upload() -> dict[str, Any]:
            body = multipart(
                {"csrfmiddlewaretoken": session.cookies["csrftoken"]},
                name="files",
                path=video,
                filename="portrait.mp4",
                content_type="video/mp4",
            )
            response = session.post(
                f"{base}/groups/{group.pk}/upload/",
                data=body.open(),
                headers={"Content-Type": body.content_type, "Accept": "application/json"},
                timeout=120,
            )
            response.raise_for_status()
            answer: dict[str, Any] = response.json()["assets"][0]
            return answer

        def direct(run: int) -> float:
            started = time.perf_counter()
            client.create_asset(
                group_id=group.upstream_id,
                name=f"direct-{run}",
                asset_type=AssetType.VIDEO,
                source=MultipartSource(
                    path=video, content_type="video/mp4", filename="portrait.mp4"
                ),
            )
            return time.perf_counter() - started

        def through_the_portal(mode: str) -> tuple[float, float]:
            settings.ASSET_FORWARDING_MODE = mode
            started = time.perf_counter()
            asset_id = upload()["id"]
            uploaded = time.perf_counter()
            services.forward(asset_id=asset_id)
            done = time.perf_counter()
            assert Asset.objects.get(pk=asset_id).status == Asset.Status.PROCESSING
            return uploaded - started, done - uploaded

        worker = _web_worker_pid(server.pid)
        _reset_peak_rss(worker)
        before = _memory_mb(worker, "VmRSS")
        started = time.perf_counter()
        upload()
        upload_s = time.perf_counter() - started
        after = _memory_mb(worker, "VmHWM")
        print(
            f"Upload of a {size_mb:.1f} MB video: {upload_s * 1000:.0f} ms (first, cold); web "
            f"worker RSS {before:.1f} MB before, peak {after:.1f} MB during it (growth "
            f"{after - before:.1f} MB, target < 30)"
        )

        cold_direct = direct(0)
        cold = {mode: through_the_portal(mode) for mode in MODES}
        print(
            f"First round (cold: MediaPipe loads in the forwarding process): direct "
            f"{cold_direct * 1000:.0f} ms; "
            + ", ".join(f"{mode} {sum(cold[mode]) * 1000:.0f} ms" for mode in MODES)
        )
        direct_s: list[float] = []
        uploads: dict[str, list[float]] = {mode: [] for mode in MODES}
        forwards: dict[str, list[float]] = {mode: [] for mode in MODES}
        for run in range(1, args.runs + 1):
            direct_s.append(direct(run))
            for mode in MODES:
                upload_s, forward_s = through_the_portal(mode)
                uploads[mode].append(upload_s)
                forwards[mode].append(forward_s)
        reference = median(direct_s)
        print(f"\nStraight to the simulator (multipart CreateAsset): {reference * 1000:.0f} ms")
        print(
            f"{'mode':>10} {'upload ms':>10} {'forward ms':>11} {'total ms':>9} "
            f"{'total/direct':>13} {'forward/direct':>15}"
        )
        for mode in MODES:
            totals = [u + f for u, f in zip(uploads[mode], forwards[mode], strict=True)]
            print(
                f"{mode:>10} {median(uploads[mode]) * 1000:>10.0f} "
                f"{median(forwards[mode]) * 1000:>11.0f} {median(totals) * 1000:>9.0f} "
                f"{median(totals) / reference:>12.2f}x "
                f"{median(forwards[mode]) / reference:>14.2f}x"
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        stop_simulator(simulator)
    # Some 2 GB by now (every upload, twice: stored here and in the simulator's database). A
    # failed run keeps its folder, with web.log, to look into.
    shutil.rmtree(folder)


def _start_web(
    folder: Path, port: int, extra: dict[str, str] | None = None, log: str = "web.log"
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SITTER_VAR_DIR": str(folder),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
        **(extra or {}),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=environment,
        check=True,
    )
    server = subprocess.Popen(
        ["bin/sitter", "web"],
        cwd=ROOT,
        env={**environment, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        stdout=subprocess.DEVNULL,
        stderr=(folder / log).open("wb"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return server
        except (requests.ConnectionError, requests.Timeout):
            # Still starting (on a loaded machine the first answer may take over a second).
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"gunicorn did not start: {(folder / log).read_text()[-2000:]}")


def _signed_in(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        data={
            "username": "bench",
            "password": "bench-password-123",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    )
    response.raise_for_status()
    return session


def _web_worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def _reset_peak_rss(pid: int) -> None:
    """Set the process's VmHWM back to its current RSS (Linux: `5` in clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _memory_mb(pid: int, field: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"{field}:\s+(\d+) kB", status)
    assert found
    return int(found.group(1)) / 1024


if __name__ == "__main__":
    main()

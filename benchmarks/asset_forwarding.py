"""A 50 MB video through the portal, against the same bytes sent straight to the upstream.

1. Upload memory: the web worker's peak RSS (VmHWM) before and after one 44 MB upload, on the real
   server (gunicorn, `bin/sitter web`). Target: growth under 30 MB.
2. Upload to forwarded: upload time + the worker's forward (check, strip metadata, CreateAsset),
   compared with one CreateAsset of the same file sent straight to the simulator, for each
   forwarding mode. Target: under 1.5x the direct transfer.

Run: python -m benchmarks.asset_forwarding [--runs 3]
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from benchmarks.scratch import django_ready, median

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = django_ready("forwarding")

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from assets import services
    from assets.models import Asset
    from benchmarks.media_validation import _video
    from tests.journey import make_verified_group
    from tests.simulator_harness import free_port, start_simulator, stop_simulator
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
        person = AuthorizingPerson.objects.create(full_name="Bench Person")
        project = Project.objects.create(name="Bench", intended_use="Benchmarks.")
        text = ConsentText.objects.create(title="Consent", version="1", body="Words.")
        group = make_verified_group(person, account, project, text, staff, simulator)

        server = _start_web(folder, port)
        base = f"http://127.0.0.1:{port}"
        session = _signed_in(base)
        worker = _web_worker_pid(server.pid)
        before = _peak_rss_mb(worker)
        started = time.perf_counter()
        with video.open("rb") as handle:
            response = session.post(
                f"{base}/groups/{group.pk}/upload/",
                files={"files": ("portrait.mp4", handle, "video/mp4")},
                headers={"Accept": "application/json", "X-CSRFToken": session.cookies["csrftoken"]},
                timeout=120,
            )
        upload_s = time.perf_counter() - started
        after = _peak_rss_mb(worker)
        response.raise_for_status()
        print(
            f"Upload of a {size_mb:.1f} MB video: {upload_s * 1000:.0f} ms; web worker peak RSS "
            f"{before:.1f} -> {after:.1f} MB (growth {after - before:.1f} MB, target < 30)"
        )

        client = client_for(account)
        direct = []
        for run in range(args.runs):
            started = time.perf_counter()
            client.create_asset(
                group_id=group.upstream_id,
                name=f"direct-{run}",
                asset_type=AssetType.VIDEO,
                source=MultipartSource(
                    path=video, content_type="video/mp4", filename="portrait.mp4"
                ),
            )
            direct.append(time.perf_counter() - started)
        print(
            f"\nStraight to the simulator (multipart CreateAsset): {median(direct) * 1000:.0f} ms"
        )
        print(f"{'mode':>10} {'upload ms':>10} {'forward ms':>11} {'total ms':>9} {'ratio':>7}")
        settings.PUBLIC_BASE_URL = base
        for mode in ("multipart", "inline", "url"):
            settings.ASSET_FORWARDING_MODE = mode
            uploads, forwards = [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                with video.open("rb") as handle:
                    body = session.post(
                        f"{base}/groups/{group.pk}/upload/",
                        files={"files": ("portrait.mp4", handle, "video/mp4")},
                        headers={
                            "Accept": "application/json",
                            "X-CSRFToken": session.cookies["csrftoken"],
                        },
                        timeout=120,
                    ).json()
                uploads.append(time.perf_counter() - started)
                asset_id = body["assets"][0]["id"]
                started = time.perf_counter()
                services.forward(asset_id=asset_id)
                forwards.append(time.perf_counter() - started)
                assert Asset.objects.get(pk=asset_id).status == Asset.Status.PROCESSING
            total = median(uploads) + median(forwards)
            print(
                f"{mode:>10} {median(uploads) * 1000:>10.0f} {median(forwards) * 1000:>11.0f} "
                f"{total * 1000:>9.0f} {total / median(direct):>6.2f}x"
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        stop_simulator(simulator)


def _start_web(folder: Path, port: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SITTER_VAR_DIR": str(folder),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
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
        stderr=(folder / "web.log").open("wb"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"gunicorn did not start: {(folder / 'web.log').read_text()[-2000:]}")


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


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found
    return int(found.group(1)) / 1024


if __name__ == "__main__":
    main()

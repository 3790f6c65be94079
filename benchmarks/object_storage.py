"""A 45 MB video uploaded and forwarded in `url` mode, with media in a bucket (moto's S3 server on
127.0.0.1) against the same with media under MEDIA_ROOT, in one run.

1. Upload memory: how far one upload lifts the web worker's peak RSS (VmHWM) above its RSS
   before, on the real server (gunicorn, `bin/sitter web`), for each storage. Target: growth
   under 30 MB with the bucket too (the multipart upload holds two 8 MB parts at most).
2. Upload and forward time, each storage's median over the runs, and their ratio.
3. Who served the bytes the upstream downloaded, counted at the simulator
   (`GET /_control/downloads`, by host:port): with the bucket, the portal's web server must have
   served none (target: 0 bytes), the bucket all of them.

The two web servers run side by side, one per storage, and the runs take turns, so load from
elsewhere hits both columns alike; the first round (cold) is left out of the medians.

Run: python -m benchmarks.object_storage [--runs 5]
"""

import argparse
import logging
import shutil
import time
from typing import Any

from benchmarks.asset_forwarding import (
    _memory_mb,
    _reset_peak_rss,
    _signed_in,
    _start_web,
    _web_worker_pid,
)
from benchmarks.scratch import django_ready, median

STORAGES = ("filesystem", "bucket")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = django_ready("object-storage")
    logging.getLogger("upstream").setLevel(logging.WARNING)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test.utils import override_settings

    from assets import services
    from assets.models import Asset
    from benchmarks.media_validation import _video
    from tests.journey import make_verified_group
    from tests.s3_harness import ACCESS_KEY, REGION, SECRET_KEY, start_s3_server, stop_s3_server
    from tests.simulator_harness import free_port, start_simulator, stop_simulator
    from upstream.bodies import multipart
    from upstream.models import Adapter, UpstreamAccount
    from verification.models import AuthorizingPerson, ConsentText, Project

    video = folder / "portrait.mp4"
    _video(video, (1080, 1920), 10, "mp4")
    size = video.stat().st_size
    simulator = start_simulator(folder)
    s3 = start_s3_server()
    servers: dict[str, Any] = {}
    try:
        bucket = s3.new_bucket()
        storage_url = (
            f"s3://{bucket}/media?endpoint_url={s3.url}&region={REGION}&addressing_style=path"
        )
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
        settings.ASSET_FORWARDING_MODE = "url"

        environments = {
            "filesystem": {},
            "bucket": {
                "MEDIA_STORAGE_URL": storage_url,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            },
        }
        bases, sessions, worker_storages = {}, {}, {}
        for name in STORAGES:
            port = free_port()
            servers[name] = _start_web(folder, port, environments[name], log=f"web-{name}.log")
            bases[name] = f"http://127.0.0.1:{port}"
            sessions[name] = _signed_in(bases[name])
        worker_storages["filesystem"] = {
            **settings.STORAGES,
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        }
        worker_storages["bucket"] = s3.storages(settings.STORAGES, bucket)

        def upload(name: str) -> int:
            session = sessions[name]
            body = multipart(
                {"csrfmiddlewaretoken": session.cookies["csrftoken"]},
                name="files",
                path=video,
                filename="portrait.mp4",
                content_type="video/mp4",
            )
            response = session.post(
                f"{bases[name]}/groups/{group.pk}/upload/",
                data=body.open(),
                headers={"Content-Type": body.content_type, "Accept": "application/json"},
                timeout=120,
            )
            response.raise_for_status()
            return int(response.json()["assets"][0]["id"])

        def round_trip(name: str) -> tuple[float, float]:
            """Upload through the web server, then forward as the worker (this process) would,
            with the same storage and the same public address."""
            started = time.perf_counter()
            asset_id = upload(name)
            uploaded = time.perf_counter()
            with override_settings(
                STORAGES=worker_storages[name],
                MEDIA_ROOT=str(folder / "media"),
                PUBLIC_BASE_URL=bases[name],
            ):
                services.forward(asset_id=asset_id)
            done = time.perf_counter()
            asset = Asset.objects.get(pk=asset_id)
            assert asset.status == Asset.Status.PROCESSING, asset.error_message
            return uploaded - started, done - uploaded

        # Each storage's first upload loads its libraries (boto3 and the S3 service model take
        # some 40 MB once per process); the growth that counts is an upload's own, measured on
        # the uploads after it (the web worker has one process, so each lands on the same one).
        cold, growth = {}, {}
        for name in STORAGES:
            worker = _web_worker_pid(servers[name].pid)
            samples = []
            for _ in range(4):
                _reset_peak_rss(worker)
                before = _memory_mb(worker, "VmRSS")
                upload(name)
                samples.append(_memory_mb(worker, "VmHWM") - before)
            cold[name], growth[name] = samples[0], max(samples[1:])
        print(
            f"Upload of a {size / 1e6:.1f} MB video, web worker peak RSS growth (the largest of "
            "three, after a first that loads the libraries): "
            + ", ".join(
                f"{name} {growth[name]:.1f} MB (first {cold[name]:.1f})" for name in STORAGES
            )
            + " (target < 30)"
        )

        for name in STORAGES:
            round_trip(name)  # cold: MediaPipe loads here, the web workers warm up
        uploads: dict[str, list[float]] = {name: [] for name in STORAGES}
        forwards: dict[str, list[float]] = {name: [] for name in STORAGES}
        served: dict[str, dict[str, int]] = {}
        for _ in range(args.runs):
            for name in STORAGES:
                before = simulator.control("GET", "downloads")["bytes_by_host"]
                upload_s, forward_s = round_trip(name)
                after = simulator.control("GET", "downloads")["bytes_by_host"]
                uploads[name].append(upload_s)
                forwards[name].append(forward_s)
                for host, count in after.items():
                    delta = count - before.get(host, 0)
                    served.setdefault(name, {}).setdefault(host, 0)
                    served[name][host] += delta

        print(f"\n{'storage':>11} {'upload ms':>10} {'forward ms':>11} {'total ms':>9}")
        totals = {}
        for name in STORAGES:
            totals[name] = median(
                [u + f for u, f in zip(uploads[name], forwards[name], strict=True)]
            )
            print(
                f"{name:>11} {median(uploads[name]) * 1000:>10.0f} "
                f"{median(forwards[name]) * 1000:>11.0f} {totals[name] * 1000:>9.0f}"
            )
        print(
            f"bucket / filesystem, upload + forward: {totals['bucket'] / totals['filesystem']:.2f}x"
        )

        portal_hosts = {name: bases[name].removeprefix("http://") for name in STORAGES}
        bucket_host = s3.url.removeprefix("http://")
        print("\nBytes the simulator downloaded, by who served them:")
        for name in STORAGES:
            by_portal = served.get(name, {}).get(portal_hosts[name], 0)
            by_bucket = served.get(name, {}).get(bucket_host, 0)
            print(
                f"{name:>11}: from the portal {by_portal} bytes, from the bucket {by_bucket} "
                f"bytes ({args.runs} files of {size} bytes)"
            )
        from_portal = served.get("bucket", {}).get(portal_hosts["bucket"], 0)
        verdict = "ok" if from_portal == 0 and growth["bucket"] < 30 else "FAILED"
        print(
            f"\nWith the bucket: {from_portal} media bytes sent by portal processes (target 0), "
            f"web worker growth {growth['bucket']:.1f} MB (target < 30): {verdict}"
        )
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=10)
        stop_simulator(simulator)
        stop_s3_server(s3)
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()

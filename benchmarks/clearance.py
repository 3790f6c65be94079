"""Usage clearance in front of every render: `POST /api/v1/clearances` for 50 Active assets at a
fixed 50 requests/s, against `/healthz` at the same rate on the same server in the same run.

The real web server (gunicorn via `bin/sitter web`), seeded with one person, one consent, 50
Active assets and an API key. Target: clearance p99 < 100 ms. Also counts the queries one
clearance costs for 1 and for 50 assets (they must be equal).

`DATABASE_URL` (PostgreSQL): a scratch database on that server, dropped after; `REDIS_URL`: the
cache (rate-limit counters). Otherwise SQLite and a file cache.

Run: python -m benchmarks.clearance [--seconds 20] [--rate 50] [--workers 2] [--threads 8]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import quantiles

import requests

from benchmarks.load.__main__ import (
    ROOT,
    drop_database,
    free_port,
    run,
    scratch_database,
    wait_for,
)

ASSETS = 50


def seed() -> None:
    """In the server's environment: the rows to clear, and the key. Prints them as JSON."""
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from assets.models import Asset, AssetGroup
    from integrations import clearances, keys
    from upstream.models import Adapter, UpstreamAccount
    from verification.models import (
        AuthorizingPerson,
        Consent,
        ConsentText,
        Project,
        VerificationSession,
    )

    account = UpstreamAccount.objects.create(
        name="Bench", adapter=Adapter.ANYFAST, base_url="http://127.0.0.1:9", api_token="x"
    )
    project = Project.objects.create(name="Bench", intended_use="Measuring clearances.")
    text = ConsentText.objects.create(title="Consent", version="1", body="I agree.")
    person = AuthorizingPerson.objects.create(full_name="Bench Person")
    session = VerificationSession.objects.create(
        person=person,
        account=account,
        project=project,
        consent_text=text,
        media_kinds=["image", "video", "audio"],
        channel="in_person",
        status="verified",
        upstream_group_id="group-bench",
    )
    consent = Consent.objects.create(
        person=person,
        session=session,
        text=text,
        text_sha256=text.sha256,
        project=project,
        intended_use=project.intended_use,
        media_kinds=["image", "video", "audio"],
        signature_name="Bench Person",
    )
    group = AssetGroup.objects.create(
        upstream_id="group-bench", person=person, account=account, session=session
    )
    assets = Asset.objects.bulk_create(
        Asset(
            group=group,
            kind="image",
            status=Asset.Status.ACTIVE,
            original_name=f"{i}.jpg",
            upstream_name=f"sitter-bench-{i}",
            upstream_id=f"asset-bench-{i}",
            size_bytes=1,
            sha256="0" * 64,
            consent=consent,
            completed_at=timezone.now(),
        )
        for i in range(ASSETS)
    )
    key, secret = keys.create_key(
        name="bench", scopes=["clear"], created_by=None, rate_limit_per_minute=10_000_000
    )
    references = [f"asset://{a.upstream_id}" for a in assets]
    counts = {}
    for n in (1, ASSETS):
        with CaptureQueriesContext(connection) as queries:
            clearances.clear_usage(
                key=key, actor=keys.actor_for(key), project=project, references=references[:n]
            )
        counts[n] = len(queries)
    print(
        json.dumps(
            {
                "secret": secret,
                "project": f"prj_{project.pk}",
                "assets": references,
                "queries": counts,
            }
        )
    )


def up(url: str, web: "subprocess.Popen[bytes]", log: Path) -> None:
    """`wait_for`, patient with a server that is still loading on a busy machine."""
    for _ in range(30):
        try:
            wait_for(url, web, log)
            return
        except requests.RequestException:
            time.sleep(1)
    raise SystemExit(f"the web server did not come up:\n{log.read_text()[-3000:]}")


def drive(rate: float, seconds: float, send: Callable[[], bool]) -> dict[str, float]:
    """Open loop: requests start on a fixed schedule whatever the answers' speed."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def one() -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            ok = send()
        except requests.RequestException:
            ok = False
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)
            errors += 0 if ok else 1

    total = int(rate * seconds)
    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i in range(total):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one)
    cuts = quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": errors, "p50": cuts[49], "p99": cuts[98]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed()
        return
    folder = Path(tempfile.mkdtemp(prefix="sitter-bench-clearance-"))
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SITTER_VAR_DIR": str(folder / "var"),
        "MEDIA_ROOT": str(folder / "media"),
        "STATIC_ROOT": str(folder / "static"),
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PUBLIC_BASE_URL": host,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(args.workers),
        "WEB_THREADS": str(args.threads),
    }
    database = os.environ.get("DATABASE_URL", "")
    scratch = ""
    if database.startswith("postgres"):
        env["DATABASE_URL"], scratch = scratch_database(database)
    else:
        env["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    web = None
    try:
        run([sys.executable, "manage.py", "migrate", "--no-input"], env)
        run([sys.executable, "manage.py", "collectstatic", "--no-input"], env)
        plan = json.loads(
            run([sys.executable, "-m", "benchmarks.clearance", "--seed"], env).splitlines()[-1]
        )
        log = folder / "web.log"
        with log.open("wb") as output:
            web = subprocess.Popen(
                ["bin/sitter", "web"], cwd=ROOT, env=env, stdout=output, stderr=output
            )
        up(f"{host}/healthz", web, log)
        session = requests.Session()
        headers = {"Authorization": f"Bearer {plan['secret']}"}
        body = {"assets": plan["assets"], "project": plan["project"], "intended_use": "bench"}

        def healthz() -> bool:
            return session.get(f"{host}/healthz", timeout=10).status_code == 200

        def clearance() -> bool:
            response = session.post(
                f"{host}/api/v1/clearances", json=body, headers=headers, timeout=10
            )
            return response.status_code == 201 and response.json()["allowed"] is True

        for _ in range(20):  # warm both paths in every worker
            healthz(), clearance()
        alone = []
        for _ in range(100):  # one at a time: the service time, without queueing
            started = time.perf_counter()
            clearance()
            alone.append((time.perf_counter() - started) * 1000)
        base = drive(args.rate, args.seconds, healthz)
        clear = drive(args.rate, args.seconds, clearance)
    finally:
        if web is not None:
            web.terminate()
            web.wait(10)
        if scratch:
            drop_database(database, scratch)
    db = "PostgreSQL" if scratch else "SQLite"
    print(
        f"\nDatabase: {db}; cache: {'Redis' if env.get('REDIS_URL') else 'file'}; "
        f"{args.workers} workers × {args.threads} threads; {args.rate:.0f} req/s for {args.seconds:.0f} s each"
    )
    print(
        f"queries per clearance: 1 asset {plan['queries']['1']}, {ASSETS} assets {plan['queries'][str(ASSETS)]}"
    )
    for name, row in (("/healthz", base), (f"clearance of {ASSETS} assets", clear)):
        print(
            f"{name:28} {row['requests']:5.0f} requests  {row['errors']:3.0f} errors  p50 {row['p50']:6.1f} ms  p99 {row['p99']:6.1f} ms"
        )
    print(f"clearance alone (one at a time): p50 {quantiles(alone, n=100)[49]:.1f} ms")
    print(f"clearance p99 / healthz p99: {clear['p99'] / base['p99']:.1f}×  (target: p99 < 100 ms)")


if __name__ == "__main__":
    main()

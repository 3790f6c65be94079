"""The audit ledger under load.

1. Append throughput through `record()`, each event its own transaction, with 1, 4 and 16
   concurrent writers (threads, one connection each): contention on the head row is the cost.
2. `verify_audit` over a chain of `--events` events and one four times as long, built first by a
   bulk fast path. Each verification runs in a fresh process, so its peak memory above the
   process's size before it is the verification's alone: flat means the same at both sizes.
   Against it, in the same run: reading the same rows without hashing them, and SHA-256 over
   bytes of the same length, one call per event (the floor for any Python verifier); and the way
   verify_audit walked the chain before (ORM rows, a dict and json.dumps per event). On a busy
   machine the events per second of the process's own CPU time say more than wall time (on
   SQLite that CPU time includes the database's work; PostgreSQL's runs in its server).

Runs on a throwaway database (see benchmarks.scratch); DATABASE_URL selects PostgreSQL.

Run: python -m benchmarks.ledger [--events 200000] [--appends 2000]
"""

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time

from benchmarks.scratch import django_ready

WRITERS = (1, 4, 16)


def append_rate(writers: int, appends: int) -> float:
    """Events per second appended by `writers` threads sharing `appends` events."""
    from django.db import connection, transaction

    from ledger.services import Actor, record

    each = max(1, appends // writers)
    start = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            start.wait()
            for n in range(each):
                with transaction.atomic():
                    record(
                        action="asset.forwarded",
                        actor=Actor.system("benchmark"),
                        person_id=n % 97,
                        payload={"sha256": f"{n:064x}", "upstream_id": f"asset-{n}"},
                    )
        except BaseException as error:  # the main thread reports it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return each * writers / elapsed


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def verify_child() -> None:
    """In a fresh process on the database named by DATABASE_URL: read, verify, hash; one JSON
    line."""
    import django

    django.setup()
    from django.db import connection

    from ledger.signing import signing_key
    from ledger.verify import verify_ledger

    with connection.cursor() as cursor:  # connect before measuring
        cursor.execute("SELECT 1")
    # First (so both find the rows in the page cache): the same rows in the same chunks, read
    # and dropped.
    began = time.perf_counter()
    last, rows_read = 0, 0
    # (On SQLite as text: Django's converter would parse every datetime, which verify avoids.)
    instant = "CAST(occurred_at AS TEXT)" if connection.vendor == "sqlite" else "occurred_at"
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT seq, prev_hash, {instant}, actor_kind, actor_id, actor_label, action, "  # noqa: S608
                "subject_type, subject_id, person_id, payload, ip, user_agent, hash "
                "FROM ledger_auditevent WHERE seq > %s ORDER BY seq LIMIT 5000",
                [last],
            )
            rows = cursor.fetchall()
            rows_read += len(rows)
            if len(rows) < 5000:
                break
            last = rows[-1][0]
    read_s = time.perf_counter() - began

    before = current_rss_mb()
    began, cpu_began = time.perf_counter(), time.process_time()
    report = verify_ledger(keys=[signing_key().public_key()])
    verify_s, verify_cpu_s = time.perf_counter() - began, time.process_time() - cpu_began
    assert report.ok, report.problems[:3]
    peak = peak_rss_mb()

    # The way verify_audit read the chain before: ORM rows, a dict and json.dumps per event.
    from ledger.chain import HASHED_FIELDS, event_hash
    from ledger.models import AuditEvent

    cpu_began = time.process_time()
    orm_rows = AuditEvent.objects.order_by("seq").values_list(*HASHED_FIELDS, "hash")
    for row in orm_rows.iterator(chunk_size=5000):
        assert event_hash(dict(zip(HASHED_FIELDS, row[:-1], strict=True))) == row[-1]
    orm_cpu_s = time.process_time() - cpu_began

    # SHA-256 of one event's worth of bytes per event, as a tight loop.
    sample = b"x" * 420  # a synthetic event's canonical document is 400-440 bytes
    sha256 = hashlib.sha256
    began = time.perf_counter()
    for _ in range(report.events):
        sha256(sample).hexdigest()
    hash_s = time.perf_counter() - began
    print(
        json.dumps(
            {
                "events": report.events,
                "verify_s": verify_s,
                "verify_cpu_s": verify_cpu_s,
                "orm_cpu_s": orm_cpu_s,
                "read_s": read_s,
                "hash_s": hash_s,
                "rss_before_mb": before,
                "peak_mb": peak,
            }
        )
    )


def verify_in_child(database_url: str) -> dict[str, float]:
    env = os.environ | {"DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.ledger", "--verify-child"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def database_url() -> str:
    """The URL of the database this process uses (PostgreSQL: the test_… copy)."""
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"sqlite:///{connection.settings_dict['NAME']}"
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    return f"{base}/{connection.settings_dict['NAME']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="the shorter chain's length")
    parser.add_argument("--appends", type=int, default=2000, help="events per append run")
    parser.add_argument("--verify-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.verify_child:
        verify_child()
        return
    django_ready("ledger")

    from django.db import connection

    from ledger.checkpoints import write_checkpoint
    from ledger.testing import append_synthetic, erase_ledger

    print(f"database: {connection.vendor}")
    rates: dict[int, float] = {}
    for writers in WRITERS:
        erase_ledger()
        rates[writers] = append_rate(writers, args.appends)
        print(
            f"append, {writers:>2} writer(s): {rates[writers]:>8.0f} events/s "
            f"({rates[writers] / rates[1]:.2f}x one writer)"
        )

    erase_ledger()
    built = 0
    url = database_url()
    for size in (args.events, 4 * args.events):
        began = time.perf_counter()
        append_synthetic(size - built)
        write_checkpoint()
        print(f"bulk build to {size} events: {time.perf_counter() - began:.1f} s")
        built = size
        connection.close()  # the child must see it all, and SQLite's WAL checkpointed
        run = verify_in_child(url)
        events = run["events"]
        print(
            f"verify {events} events: {run['verify_s']:.2f} s, "
            f"{events / run['verify_s']:>7.0f} events/s ({events / run['verify_cpu_s']:.0f} per "
            "second of this process's CPU time, "
            f"{run['orm_cpu_s'] / run['verify_cpu_s']:.1f}x the ORM walk it replaced); "
            "reading the rows alone "
            f"{events / run['read_s']:>7.0f} rows/s; one SHA-256 per event alone "
            f"{events / run['hash_s']:>8.0f}/s (verify takes {run['verify_s'] / run['hash_s']:.1f}x "
            f"the hashing, {run['verify_s'] / run['read_s']:.1f}x the reading); "
            f"memory: {run['rss_before_mb']:.0f} MB before, peak {run['peak_mb']:.0f} MB "
            f"(+{run['peak_mb'] - run['rss_before_mb']:.1f} MB)"
        )


if __name__ == "__main__":
    main()

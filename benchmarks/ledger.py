"""The audit ledger under load.

1. Append throughput through `record()`, each event its own transaction, with 1, 4 and 16
   concurrent writers (threads, one connection each): contention on the head row is the cost.
2. `verify_audit` over a long chain (1,000,000 events by default), built first by a bulk fast
   path; events/s, and the process's peak memory before and after, which must not grow.

Runs on a throwaway database (see benchmarks.scratch); DATABASE_URL selects PostgreSQL.

Run: python -m benchmarks.ledger [--events 1000000] [--appends 2000]
"""

import argparse
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="chain length to verify")
    parser.add_argument("--appends", type=int, default=2000, help="events per append run")
    args = parser.parse_args()
    django_ready("ledger")

    from django.db import connection

    from ledger.signing import signing_key
    from ledger.testing import append_synthetic, erase_ledger
    from ledger.verify import verify_ledger

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
    began = time.perf_counter()
    append_synthetic(args.events)
    built = time.perf_counter() - began
    print(f"bulk build of {args.events} events: {built:.1f} s ({args.events / built:.0f} events/s)")

    memory_before = peak_rss_mb()
    began = time.perf_counter()
    report = verify_ledger(keys=[signing_key().public_key()])
    elapsed = time.perf_counter() - began
    assert report.ok and report.events == args.events, report.problems[:3]
    print(
        f"verify {report.events} events: {elapsed:.1f} s ({report.events / elapsed:.0f} events/s, "
        f"{report.events / elapsed / rates[1]:.0f}x one writer's append rate); "
        f"peak RSS {memory_before:.0f} MB before, {peak_rss_mb():.0f} MB after"
    )


if __name__ == "__main__":
    main()

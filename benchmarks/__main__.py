"""Run every benchmark, one after another, each in its own process: `python -m benchmarks`.

Pass names to run some: `python -m benchmarks verification_sweep ledger`.
"""

import subprocess
import sys

BENCHMARKS = {
    "verification_sweep": ["--sessions", "10000"],
    "asset_forwarding": ["--runs", "5"],
    "object_storage": ["--runs", "5"],
    "media_validation": [],
    "ledger": ["--events", "200000"],
    "clearance": ["--seconds", "20"],
}


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    failed = []
    for name in chosen:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", *BENCHMARKS[name]], check=False
        )
        if result.returncode:
            failed.append(name)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

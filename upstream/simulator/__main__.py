"""``python -m upstream.simulator``: run the upstream simulator until Ctrl-C or SIGTERM.

Prints one line to stdout once it is accepting connections (``listening on <url>``), so a test
can start it with ``--port 0`` and read the port back; every request is logged to stderr.
"""

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from upstream.simulator import control
from upstream.simulator.core import Context
from upstream.simulator.faults import RateLimiter
from upstream.simulator.server import Server, log
from upstream.simulator.store import Store
from upstream.simulator.switches import SwitchError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m upstream.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100, help="0 picks a free port")
    parser.add_argument("--state", default="var/simulator.sqlite3", help="SQLite state file")
    parser.add_argument("--seed-file", help="JSON: {tokens: [...], keypairs: [...], switches?}")
    parser.add_argument("--public-url", help="base of H5 and download links (default: own URL)")
    parser.add_argument("--region", default="ap-southeast-1", help="BytePlus signing region")
    parser.add_argument("--link-ttl", type=float, help="sets the link_ttl_seconds switch")
    parser.add_argument("--processing-seconds", type=float, help="sets processing_seconds")
    return parser.parse_args(argv)


def load_seed(store: Store, path: str) -> None:
    seed = json.loads(Path(path).read_text())
    control.register_credentials(store, seed)
    if seed.get("switches"):
        store.set_switches(seed["switches"])


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    store = Store(args.state)
    try:
        if args.seed_file:
            load_seed(store, args.seed_file)
        overrides = {
            "link_ttl_seconds": args.link_ttl,
            "processing_seconds": args.processing_seconds,
        }
        store.set_switches({name: value for name, value in overrides.items() if value is not None})
    except (OSError, ValueError, SwitchError, control.ControlError) as exc:
        print(f"upstream simulator: bad configuration: {exc}", file=sys.stderr)
        return 2
    server = Server((args.host, args.port))
    port = server.server_address[1]
    own_url = f"http://{args.host}:{port}"
    ctx = Context(
        store=store,
        public_url=(args.public_url or own_url).rstrip("/"),
        region=args.region,
        limiter=RateLimiter(store),
        stopping=threading.Event(),
    )
    server.ctx = ctx
    if args.host not in LOOPBACK:
        log(f"warning: listening on {args.host}; the unauthenticated /_control/ API is exposed")
    signal.signal(signal.SIGTERM, _stop)
    try:
        print(f"listening on {own_url}", flush=True)  # inside: Ctrl-C may follow at once
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        ctx.stopping.set()
        server.server_close()
        store.close()
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A webhook receiver run as its own process: `python receiver.py PORT LOG FAILURES`. It answers
500 to its first FAILURES requests, then 204 (FAILURES -1: 307 to elsewhere, always), and appends every request it got to LOG (JSON lines)."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

port, log, failures = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
seen = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        global seen
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        seen += 1
        status = 307 if failures < 0 else 500 if seen <= failures else 204
        with log.open("a") as out:
            out.write(
                json.dumps(
                    {
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode(),
                        "answered": status,
                    }
                )
                + "\n"
            )
        self.send_response(status)
        if status == 307:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

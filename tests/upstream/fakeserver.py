"""A tiny scripted HTTP server: the one seam the client's unit tests fake.

Each request takes the next scripted step; with none left it gets 500. Steps can answer, hang,
trickle the body, or read the request and drop the connection without answering.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Step:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # read the request, then close without answering
    delay: float = 0.0  # wait before answering
    trickle: float = 0.0  # seconds between body bytes


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes  # empty when the server only hashes bodies
    length: int = 0
    sha256: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


class FakeServer:
    def __init__(self) -> None:
        self.keep_bodies = True  # False: hash large uploads in chunks instead of keeping them
        self.steps: list[Step] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                digest, left, body = hashlib.sha256(), length, b""
                while left:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    left -= len(chunk)
                    digest.update(chunk)
                    if fake.keep_bodies:
                        body += chunk
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(self.command, self.path, headers, body, length, digest.hexdigest())
                with fake._lock:
                    fake.requests.append(seen)
                    step = fake.steps.pop(0) if fake.steps else Step(500, {"message": "unscripted"})
                if step.delay:
                    time.sleep(step.delay)
                if step.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = step.body
                if isinstance(payload, dict | list):
                    data = json.dumps(payload).encode()
                    content_type = "application/json"
                elif isinstance(payload, str):
                    data, content_type = payload.encode(), "text/html; charset=utf-8"
                else:
                    data, content_type = payload or b"", "application/octet-stream"
                self.send_response(step.status)
                headers = {"Content-Type": content_type, **step.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if step.trickle:
                    for i in range(len(data)):
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        time.sleep(step.trickle)
                else:
                    self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def script(self, *steps: Step) -> None:
        with self._lock:
            self.steps.extend(steps)

    def actions(self) -> list[str]:
        return [seen.path.rsplit("/", 1)[-1].split("?")[0] for seen in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

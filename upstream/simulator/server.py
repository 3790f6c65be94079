"""HTTP server: routing, bounded body reading, fault injection and the request log.

Built on ``http.server`` rather than a framework so faults can act on the raw socket: hang,
trickle a reply, or close after committing without a byte of response.

Routes:

- ``POST /volc/asset/<Action>``                    Anyfast adapter
- ``POST /?Action=<Action>&Version=2024-01-01``    BytePlus adapter
- ``GET|POST /h5/<opaque>``, ``GET /h5/<opaque>/return``   the phone's liveness page
- ``GET /files/<asset id>?expires&nonce&signature``        signed asset download (GetAsset URL)
- ``/_control/...`` and ``GET /``                  control API and overview page
"""

import contextlib
import re
import socket
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from upstream.simulator import anyfast, byteplus, control, faults, h5, library
from upstream.simulator.core import Context
from upstream.simulator.store import iso
from upstream.simulator.web import Reply, Request, json_reply

TRICKLE_PIECES = 10


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, Handler)
        self.ctx: Context | None = None


def _masked(path: str) -> str:
    """The path as logged: H5 links and BytedTokens are bearer secrets, so only a prefix."""
    path = re.sub(r"^/h5/([^/]{6})[^/]*", r"/h5/\1…", path)
    return re.sub(r"^/_control/sessions/([^/]{14})[^/]*", r"/_control/sessions/\1…", path)


def log(line: str) -> None:
    sys.stderr.write(f"{iso(time.time())} {line}\n")
    sys.stderr.flush()


def serve_file(ctx: Context, request: Request) -> Reply:
    asset_id = request.path.removeprefix("/files/")
    if not library.link_is_valid(ctx.store, asset_id, request.query):
        return json_reply(403, {"error": "the link is invalid or has expired"})
    with ctx.store.tx() as db:
        row = db.execute(
            "SELECT blobs.data, assets.content_type FROM blobs JOIN assets"
            " ON assets.id = blobs.asset_id WHERE blobs.asset_id = ? AND assets.deleted = 0",
            (asset_id,),
        ).fetchone()
    if row is None:
        return json_reply(404, {"error": "no such file"})
    return Reply(200, bytes(row["data"]), row["content_type"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream-simulator/1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: Server

    @property
    def ctx(self) -> Context:
        assert self.server.ctx is not None
        return self.server.ctx

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # `_serve` writes one line per request itself

    def log_message(self, format: str, *args: Any) -> None:
        log(f"{self.client_address[0]} {format % args}")

    def handle_expect_100(self) -> bool:
        # Refuse an announced oversized body before the client starts sending it.
        try:
            too_large = int(self.headers.get("Content-Length") or 0) > self._cap()
        except ValueError:
            too_large = False
        if too_large:
            self._serve()
            return False
        return super().handle_expect_100()

    def _cap(self) -> int:
        return int(self.ctx.store.switch("max_body_bytes"))

    def _adapter(self, path: str, raw_query: str) -> ModuleType | None:
        if self.command != "POST":
            return None
        if path.startswith(anyfast.PREFIX):
            return anyfast
        if path == "/" and "Action=" in raw_query:
            return byteplus
        return None

    def _serve(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        adapter = self._adapter(split.path, split.query)
        try:
            body = self._read_body(self._cap())
        except (BodyTooLarge, BadBody) as exc:
            self.close_connection = True  # the rest of the body is never read
            status = 413 if isinstance(exc, BodyTooLarge) else 400
            message = "Request body too large." if status == 413 else "Unreadable request body."
            request = Request(self.command, split.path, split.query, self.headers)
            if adapter is None:
                reply = json_reply(status, {"error": message})
            else:
                reply = adapter.gateway_error(self.ctx, adapter.action_of(request), status, message)
            self._finish(reply, started, adapter, request, {})
            return
        request = Request(self.command, split.path, split.query, self.headers, body)
        try:
            if adapter is not None:
                self._serve_adapter(adapter, request, started)
            else:
                self._finish(self._route(request), started, None, request, {})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            self.close_connection = True
            self._finish(json_reply(500, {"error": "internal error"}), started, None, request, {})

    def _route(self, request: Request) -> Reply:
        path = request.path
        if path.startswith("/h5/"):
            return h5.handle(self.ctx, request)
        if path.startswith("/files/") and request.method == "GET":
            return serve_file(self.ctx, request)
        if path == "/" or path.startswith(control.PREFIX):
            return control.handle(self.ctx, request)
        return json_reply(404, {"error": f"no route for {request.method} {path}"})

    def _serve_adapter(self, adapter: ModuleType, request: Request, started: float) -> None:
        ctx = self.ctx
        action = adapter.action_of(request)
        fault = faults.take(ctx.store, adapter.NAME, action)
        entry: dict[str, Any] = {
            "fault": fault.kind if fault else "",
            "credential": adapter.identify(request),
        }
        if fault is not None and fault.kind == "hang":
            ctx.stopping.wait(fault.seconds)
            self._drop()
            self._finish(None, started, adapter, request, entry)
        elif fault is not None and fault.kind in faults.BEFORE_ACTION:
            status = fault.status if fault.kind == "error" else 429
            message = "Injected fault." if fault.kind == "error" else "Rate limit exceeded."
            reply = adapter.gateway_error(ctx, action, status, message, fault.retry_after)
            self._finish(reply, started, adapter, request, entry)
        else:
            handled = adapter.handle(ctx, request)
            entry["model"] = handled.model
            if fault is not None and fault.kind == "commit_then_drop":
                self._drop()
                self._finish(None, started, adapter, request, entry)
            else:
                trickle = fault.seconds if fault is not None else 0.0
                self._finish(handled.reply, started, adapter, request, entry, trickle)

    def _finish(
        self,
        reply: Reply | None,
        started: float,
        adapter: ModuleType | None,
        request: Request,
        entry: dict[str, Any],
        trickle: float = 0.0,
    ) -> None:
        """Send ``reply`` (``None``: the connection was dropped), then log the request."""
        if reply is not None:
            self._send(reply, trickle)
        status = reply.status if reply else 0
        duration = int((time.monotonic() - started) * 1000)
        where = f"{request.method} {_masked(request.path)}"
        if adapter is None:
            log(f"{self.client_address[0]} {where} {status} {duration}ms")
            return
        action = adapter.action_of(request)
        credential = entry.get("credential", "")
        fault = entry.get("fault", "")
        log(
            f"{self.client_address[0]} {where} {adapter.NAME} {action} "
            f"cred={credential or '-'} {status or 'dropped'} {duration}ms"
            + (f" fault={fault}" if fault else "")
        )
        self.ctx.store.log_request(
            {
                "time": self.ctx.store.now(),
                "adapter": adapter.NAME,
                "action": action,
                "credential": credential,
                "status": status,
                "fault": fault,
                "model": entry.get("model", ""),
                "duration_ms": duration,
            }
        )

    def _send(self, reply: Reply, trickle: float = 0.0) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not trickle:
            self.wfile.write(reply.body)
            return
        size = -(-len(reply.body) // TRICKLE_PIECES) or 1
        for start in range(0, len(reply.body), size):
            if self.ctx.stopping.wait(trickle / TRICKLE_PIECES):
                break
            self.wfile.write(reply.body[start : start + size])
            self.wfile.flush()

    def _drop(self) -> None:
        """Close the connection without answering."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _read_body(self, cap: int) -> bytes:
        """The request body, never reading more than ``cap`` bytes of it."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(cap)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadBody from None
        if length < 0:
            raise BadBody
        if length > cap:
            raise BodyTooLarge
        body = self.rfile.read(length)
        if len(body) < length:
            raise BadBody
        return body

    def _read_chunked(self, cap: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadBody from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > cap:
                raise BodyTooLarge
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise BadBody
            parts.append(chunk)
            self.rfile.readline()

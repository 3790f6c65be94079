"""Multipart upload bodies made up as they are read (a 300 MB body costs no memory), counting the
bytes the server actually read."""

import io
import re
from collections.abc import Iterator
from typing import Any

from django.test import Client

BOUNDARY = "----sitter-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def field(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


def file_head(name: str, filename: str, content_type: str = "video/mp4") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()


END = f"--{BOUNDARY}--\r\n".encode()


class Body(io.RawIOBase):
    """Segments of bytes, or of zeros given as a count; `read_bytes` is what was read of them.
    `declared` is the length it claims (the real one unless a test makes it lie)."""

    def __init__(self, *segments: bytes | int, declared: int | None = None) -> None:
        self.segments = list(segments)
        self.length = sum(s if isinstance(s, int) else len(s) for s in segments)
        self.declared = self.length if declared is None else declared
        self.read_bytes = 0
        self._parts = self._generate()
        self._pending = b""

    def _generate(self) -> Iterator[bytes]:
        for segment in self.segments:
            if isinstance(segment, int):
                block = b"\0" * (1024 * 1024)
                left = segment
                while left > 0:
                    yield block[: min(left, len(block))]
                    left -= len(block)
            else:
                yield segment

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self.length
        out = bytearray()
        while len(out) < size:
            if not self._pending:
                self._pending = next(self._parts, b"")
                if not self._pending:
                    break
            take = size - len(out)
            out += self._pending[:take]
            self._pending = self._pending[take:]
        self.read_bytes += len(out)
        return bytes(out)

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size)

    def environ(self) -> dict[str, Any]:
        return {
            "wsgi.input": self,
            "CONTENT_LENGTH": str(self.declared),
            "CONTENT_TYPE": CONTENT_TYPE,
        }


def one_file(size: int, *, token: str = "", filename: str = "clip.mp4", **kw: int) -> Body:
    head = [field("csrfmiddlewaretoken", token)] if token else []
    return Body(*head, file_head("files", filename), size, b"\r\n", END, **kw)


def two_files(size: int, *, token: str = "") -> Body:
    head = [field("csrfmiddlewaretoken", token)] if token else []
    return Body(
        *head,
        file_head("files", "a.mp4"),
        size,
        b"\r\n",
        file_head("files", "b.mp4"),
        size,
        b"\r\n",
        END,
    )


def post(client: Client, url: str, body: Body, **headers: str):
    """POST `body` as it is, with the Accept header of the uploader script."""
    return client.generic(
        "POST", url, headers={"Accept": "application/json", **headers}, **body.environ()
    )


def csrf_token(client: Client, page: str) -> str:
    """The masked CSRF token of a page's form (and the cookie for it, now in `client`)."""
    html = client.get(page).content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, f"no CSRF token on {page}"
    return found.group(1)

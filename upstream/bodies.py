"""Request bodies that stream a file from disk instead of holding it in memory.

A body is a list of parts (bytes, a file, or a file Base64-encoded on the fly) whose total length
is known before anything is read, so requests sends a plain ``Content-Length`` upload. Each
:meth:`StreamBody.open` gives a fresh reader, so the same body can be hashed (BytePlus signs the
body hash) and then sent, or resent after a failure, never holding more than one chunk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 3 * 64 * 1024  # a multiple of 3, so Base64 chunks concatenate without padding in between


@dataclass(frozen=True)
class FilePart:
    path: Path
    size: int
    base64: bool = False

    @property
    def length(self) -> int:
        return 4 * ((self.size + 2) // 3) if self.base64 else self.size


Part = bytes | FilePart


def file_part(path: Path, *, base64_encoded: bool = False) -> FilePart:
    return FilePart(path=path, size=path.stat().st_size, base64=base64_encoded)


class StreamBody:
    """A body made of parts; ``len(body)`` is exact, :meth:`open` starts a new reader."""

    def __init__(self, parts: list[Part], content_type: str) -> None:
        self.parts = parts
        self.content_type = content_type
        self._sha256: str | None = None

    def __len__(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else p.length for p in self.parts)

    def chunks(self) -> Iterator[bytes]:
        for part in self.parts:
            if isinstance(part, bytes):
                if part:  # never yield b"": readers take it for the end
                    yield part
                continue
            sent = 0
            with part.path.open("rb") as handle:
                # Never more than promised: Content-Length went out with the headers.
                while sent < part.size and (block := handle.read(min(CHUNK, part.size - sent))):
                    sent += len(block)
                    yield base64.b64encode(block) if part.base64 else block
            if sent != part.size:
                raise OSError(f"{part.path.name} changed size while being sent")

    def open(self) -> _Reader:
        return _Reader(self.chunks(), len(self))

    def sha256_hex(self) -> str:
        """One pass over the files; remembered, since a resend carries the same bytes."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            for chunk in self.chunks():
                digest.update(chunk)
            self._sha256 = digest.hexdigest()
        return self._sha256


class _Reader:
    """File-like view of a chunk iterator. ``len()`` lets requests send Content-Length; there is
    deliberately no ``tell``/``seek`` (requests would misjudge the length of an unseekable one)."""

    def __init__(self, chunks: Iterator[bytes], length: int) -> None:
        self._chunks = chunks
        self._length = length
        self._buffer = b""
        self._offset = 0

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (short reads are normal), ``b""`` at the end."""
        if size is None or size < 0:
            rest = self._buffer[self._offset :]
            self._buffer, self._offset = b"", 0
            return b"".join([rest, *self._chunks])
        while self._offset >= len(self._buffer):
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buffer, self._offset = chunk, 0
        out = self._buffer[self._offset : self._offset + size]
        self._offset += len(out)
        return out


# --- Shapes -------------------------------------------------------------------------------------

_SLOT = "@@sitter-inline-file@@"


def json_with_inline_file(
    payload: dict[str, Any], *, key: str, path: Path, content_type: str
) -> StreamBody:
    """``payload`` as JSON with ``payload[key]`` set to a ``data:`` URI of the file, streamed."""
    text = json.dumps({**payload, key: _SLOT}, separators=(",", ":"), ensure_ascii=False)
    # Split at the key and its placeholder together: a quote inside any other value is escaped,
    # so this text can't occur elsewhere.
    slot = f'"{key}":"{_SLOT}"'
    before, _, after = text.partition(slot)
    before += f'"{key}":"'
    after = '"' + after
    prefix = f"data:{content_type};base64,".encode()
    return StreamBody(
        [before.encode() + prefix, file_part(path, base64_encoded=True), after.encode()],
        "application/json",
    )


def multipart(
    fields: dict[str, str], *, name: str, path: Path, filename: str, content_type: str
) -> StreamBody:
    """A ``multipart/form-data`` body with ``fields`` and one streamed file."""
    boundary = f"sitter-{secrets.token_hex(16)}"

    def _quoted(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")

    head = b"".join(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(k)}"\r\n\r\n{v}\r\n'
        ).encode()
        for k, v in fields.items()
    )
    head += (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{_quoted(name)}"; '
        f'filename="{_quoted(filename)}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return StreamBody([head, file_part(path), tail], f"multipart/form-data; boundary={boundary}")

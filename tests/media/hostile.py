"""Crafted files that are cheap to send and were expensive to check: floods of empty boxes,
chunks, segments and blocks, index tables far longer than the media they index, and a picture
that is small on disk but huge decoded. Each builder takes an ordinary file's bytes (or sizes)
and a count, so the tests use a few thousand items past a cap and the benchmark the full size
an uploader could send within the upload limits (benchmarks/media_validation.py).
"""

from __future__ import annotations

import struct
import zlib

from .isobmff import children, rebuild


def mp4_box_flood(mp4: bytes, count: int) -> bytes:
    """`count` empty `free` boxes after the file's own (ffmpeg writes `moov` last, so no sample
    moves)."""
    return mp4 + b"\0\0\0\x08free" * count


def mp4_chunk_table(mp4: bytes, count: int) -> bytes:
    """The first track's chunk-offset table (`stco`) with `count` entries, far more than the
    track has samples."""
    done = {"stco": False}

    def edit(kids: list[tuple[bytes, bytes]], path: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
        out = []
        for kind, payload in kids:
            if kind == b"stco" and not done["stco"]:
                done["stco"] = True
                (first,) = struct.unpack_from(">I", payload, 8) if len(payload) >= 12 else (0,)
                payload = struct.pack(">4sI", payload[:4], count) + struct.pack(">I", first) * count
            out.append((kind, payload))
        return out

    out = b""
    for kind, payload in children(mp4):
        if kind == b"moov":
            payload = rebuild(payload, edit, (b"moov",))
        out += struct.pack(">I", 8 + len(payload)) + kind + payload
    return out


def wav_chunk_flood(wav: bytes, count: int, *, after: bool = False) -> bytes:
    """`count` empty chunks between the format chunk and the sound data (or after the sound)."""
    at = len(wav) if after else wav.index(b"data")
    flood = b"junk\0\0\0\0" * count
    body = wav[12:at] + flood + wav[at:]
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def jpeg_comment_flood(jpeg: bytes, count: int) -> bytes:
    """`count` empty comment segments right after the start-of-image marker."""
    return jpeg[:2] + b"\xff\xfe\x00\x02" * count + jpeg[2:]


def jpeg_fill_flood(jpeg: bytes, count: int) -> bytes:
    """`count` fill bytes (0xFF) before the first marker after start-of-image."""
    return jpeg[:2] + b"\xff" * count + jpeg[2:]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_chunk_flood(png: bytes, count: int, kind: bytes = b"prVt") -> bytes:
    """`count` empty chunks of `kind` (a private ancillary one, or b"IDAT") after IHDR."""
    return png[:33] + png_chunk(kind, b"") * count + png[33:]


def gif_comment_flood(gif: bytes, count: int) -> bytes:
    """`count` empty comment extensions after the header and global colour table."""
    flags = gif[10]
    start = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    return gif[:start] + b"\x21\xfe\x00" * count + gif[start:]


def webp_chunk_flood(webp: bytes, count: int) -> bytes:
    """`count` empty unknown chunks after the picture's own."""
    body = webp[12:] + b"JUNK\0\0\0\0" * count
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def heic_item_flood(heic: bytes, count: int) -> bytes:
    """The item-location table's item count set to `count` (up to 65,535 in versions 0 and
    1), each item then read from whatever follows."""
    at = heic.index(b"iloc") + 4
    version = heic[at]
    if version >= 2:
        return heic[: at + 6] + struct.pack(">I", count) + heic[at + 10 :]
    return heic[: at + 6] + struct.pack(">H", min(count, 0xFFFF)) + heic[at + 8 :]


def png_16bit_rgba(width: int, height: int) -> bytes:
    """A 16-bit RGBA PNG of one flat colour: a few hundred KB on disk, width × height × 8
    bytes decoded. Compressed row by row, so building it doesn't need that memory either."""
    compressor = zlib.compressobj(6)
    row = b"\0" + b"\x12\x34\x56\x78\x9a\xbc\xff\xff" * width
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def mp4_metadata_flood(mp4: bytes, count: int, *, in_track: bool = False) -> bytes:
    """`count` iTunes-style metadata items of distinct names in the movie's `udta` (or the
    first track's): FFmpeg keeps them in a dictionary it searches on every insertion (50,000
    took it 36 s)."""
    items = b"".join(
        _box(
            b"----",
            _box(b"mean", b"\0\0\0\0com.example")
            + _box(b"name", b"\0\0\0\0key%d" % i)
            + _box(b"data", struct.pack(">II", 1, 0) + b"v"),
        )
        for i in range(count)
    )
    handler = _box(b"hdlr", bytes(8) + b"mdir" + bytes(12))
    udta = _box(b"udta", _box(b"meta", b"\0\0\0\0" + handler + _box(b"ilst", items)))
    out = b""
    for kind, payload in children(mp4):
        if kind == b"moov" and in_track:
            kids = children(payload)
            at = next(i for i, (k, _) in enumerate(kids) if k == b"trak")
            kids[at] = (b"trak", kids[at][1] + udta)
            payload = b"".join(_box(k, p) for k, p in kids)
        elif kind == b"moov":
            payload += udta
        out += _box(kind, payload)
    return out


def wav_info_flood(wav: bytes, count: int) -> bytes:
    """A LIST/INFO chunk after the sound with `count` tags of distinct names (30,000 took
    FFmpeg 5.8 s, for the same reason)."""
    entries = b"".join(struct.pack("<II", 0x41414141 + i, 2) + b"x\0" for i in range(count))
    body = wav[12:] + b"LIST" + struct.pack("<I", 4 + len(entries)) + b"INFO" + entries
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload

"""Files whose structure is intact around picture data that isn't a picture: every structural
check passes, only a decode shows the damage."""

from __future__ import annotations

import mmap
import random
from pathlib import Path

from assets.media import boxes


def _random(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def heic_with_random_pictures(heic: bytes) -> bytes:
    """Every item's bytes but the Exif/XMP ones replaced with random bytes, boxes untouched."""
    with _mapped(heic) as (data, size):
        meta = next(b for b in boxes.top_level_boxes(data, size, "HEIC") if b.type == b"meta")
        local = boxes.Box(meta.type, 0, meta.header_size, meta.size)
        items = boxes.read_items(bytes(data[meta.start : meta.end]), local, meta.start, "HEIC")
    out = bytearray(heic)
    for item in items:
        if item.type in {b"hvc1", b"av01", b"grid"}:
            for offset, length in item.extents:
                out[offset : offset + length] = _random(length, offset)
    return bytes(out)


def mp4_with_random_media(mp4: bytes, keep: float = 0.0) -> bytes:
    """The `mdat` box's contents past the first `keep` fraction replaced with random bytes."""
    with _mapped(mp4) as (data, size):
        mdat = next(b for b in boxes.top_level_boxes(data, size, "MP4") if b.type == b"mdat")
    start = mdat.body + int((mdat.end - mdat.body) * keep)
    return mp4[:start] + _random(mdat.end - start, start) + mp4[mdat.end :]


class _mapped:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def __enter__(self) -> tuple[mmap.mmap, int]:
        self.map = mmap.mmap(-1, len(self.content))
        self.map.write(self.content)
        return self.map, len(self.content)

    def __exit__(self, *exc: object) -> None:
        self.map.close()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path

"""Hand-built ISO boxes for the tests: rewrite an ffmpeg-made MP4/MOV's edit lists, pad it with
boxes, or blow up one of its tables, keeping every sample offset valid.

The files come from ffmpeg with the index (`moov`) after the media data (`mdat`), so changing
the index's size moves no sample: only the sizes of the boxes around the edited one change.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta"}


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def children(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each box in `data` (32-bit sizes only, as ffmpeg writes them)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        out.append((kind, data[pos + 8 : pos + size]))
        pos += size
    return out


Edit = Callable[[list[tuple[bytes, bytes]], tuple[bytes, ...]], list[tuple[bytes, bytes]]]


def rebuild(data: bytes, edit: Edit, path: tuple[bytes, ...] = ()) -> bytes:
    """`data` (a run of boxes) with `edit` applied to the children of every container, where
    `path` is the container's place (b"moov", b"trak", ...). Sizes are recomputed."""
    kids = edit(children(data), path)
    out = b""
    for kind, payload in kids:
        if kind in _CONTAINERS:
            payload = rebuild(payload, edit, (*path, kind))
        out += box(kind, payload)
    return out


def elst(entries: list[tuple[int, int]], *, version: int = 0) -> bytes:
    """An edit list: (segment duration in movie units, media time or -1 for an empty edit)."""
    body = struct.pack(">B3sI", version, b"\0\0\0", len(entries))
    for duration, media_time in entries:
        if version:
            body += struct.pack(">Qqhh", duration, media_time, 1, 0)
        else:
            body += struct.pack(">Iihh", duration, media_time, 1, 0)
    return box(b"elst", body)


def with_edit_lists(data: bytes, lists: Mapping[int, list[tuple[int, int]] | None]) -> bytes:
    """The file with track n's edit list replaced (None removes it), and the track and movie
    durations (tkhd, mvhd) set to what the edits present, as a real writer would."""
    seen = {"trak": -1}

    def edit(kids: list[tuple[bytes, bytes]], path: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
        if path != (b"moov", b"trak"):
            return kids
        seen["trak"] += 1
        if seen["trak"] not in lists:
            return kids
        kids = [k for k in kids if k[0] != b"edts"]
        entries = lists[seen["trak"]]
        if entries is not None:
            at = 1 if kids and kids[0][0] == b"tkhd" else 0
            kids.insert(at, (b"edts", elst(entries)))
        return kids

    return consistent_durations(_rebuild_file(data, edit))


def consistent_durations(data: bytes) -> bytes:
    """Each tkhd duration set to the sum of its edits (or its media duration), and mvhd's to
    the longest: what ffprobe reports as the file's duration."""
    movie, scales = track_timescales(data)
    lengths: list[int] = []
    index = {"trak": -1}

    def measure(
        kids: list[tuple[bytes, bytes]], path: tuple[bytes, ...]
    ) -> list[tuple[bytes, bytes]]:
        if path == (b"moov", b"trak"):
            index["trak"] += 1
            lengths.append(_presented(kids, movie, scales[index["trak"]]))
        return kids

    _rebuild_file(data, measure)
    index["trak"] = -1

    def patch(
        kids: list[tuple[bytes, bytes]], path: tuple[bytes, ...]
    ) -> list[tuple[bytes, bytes]]:
        out = []
        for kind, payload in kids:
            if kind == b"mvhd" and payload[0] == 0:
                payload = payload[:16] + struct.pack(">I", max(lengths)) + payload[20:]
            if kind == b"tkhd" and payload[0] == 0:
                index["trak"] += 1
                payload = payload[:20] + struct.pack(">I", lengths[index["trak"]]) + payload[24:]
            out.append((kind, payload))
        return out

    return _rebuild_file(data, patch)


def _presented(kids: list[tuple[bytes, bytes]], movie: int, media: int) -> int:
    for kind, payload in kids:
        if kind == b"edts":
            for k, p in children(payload):
                if k == b"elst":
                    (count,) = struct.unpack_from(">I", p, 4)
                    width = 20 if p[0] else 12
                    fmt = ">Q" if p[0] else ">I"
                    return sum(struct.unpack_from(fmt, p, 8 + i * width)[0] for i in range(count))
    for kind, payload in kids:
        if kind == b"mdia":
            for k, p in children(payload):
                if k == b"mdhd":
                    duration = struct.unpack_from(">I", p, 16)[0]
                    return duration * movie // media
    return 0


def _rebuild_file(data: bytes, edit: Edit) -> bytes:
    out = b""
    for kind, payload in children(data):
        if kind == b"moov":
            payload = rebuild(payload, edit, (b"moov",))
        out += box(kind, payload)
    return out


def track_timescales(data: bytes) -> tuple[int, list[int]]:
    """(movie timescale, each track's media timescale)."""
    movie, tracks = 0, []
    for kind, payload in children(data):
        if kind != b"moov":
            continue
        for k, p in children(payload):
            if k == b"mvhd":
                movie = struct.unpack_from(">I", p, 12 if p[0] == 0 else 20)[0]
            if k == b"trak":
                for k2, p2 in children(p):
                    if k2 == b"mdia":
                        for k3, p3 in children(p2):
                            if k3 == b"mdhd":
                                tracks.append(
                                    struct.unpack_from(">I", p3, 12 if p3[0] == 0 else 20)[0]
                                )
    return movie, tracks

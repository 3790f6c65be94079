"""A small ISO base media file (MP4/MOV/HEIC) box reader: structure first, then trust.

Metadata libraries (FFmpeg included) happily report a duration for an MP4 cut in half or whose
`moov` size points past the end of the file. This reader refuses such files: every box must fit
inside its parent and the file, a movie must have exactly one `moov`, and every sample the index
promises must lie inside the file. It reads only box headers and the `moov` index, never the
media data, through a view of the file rather than a copy, and counts what it visits against the
caps in `bounds`: a file with millions of boxes or table entries is refused as malformed before
FFmpeg or libheif builds an index of them.
"""

from __future__ import annotations

import math
import mmap
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import BinaryIO

from assets.media.bounds import (
    MAX_EDITS,
    MAX_HEIF_ITEMS,
    MAX_INDEX_BOXES,
    MAX_METADATA_ITEMS,
    MAX_SAMPLES,
    MAX_TOP_LEVEL_BOXES,
    Budget,
    too_many,
)
from assets.media.facts import MediaError, ProblemCode

Buffer = bytes | memoryview

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HEADER = struct.Struct(">I4s")
# Containers whose children we descend into when looking for tracks and metadata.
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf"})


def printable_type(kind: bytes) -> str:
    """A box type as text safe to show and store: a damaged file's type can hold any byte (a NUL
    would be refused by PostgreSQL and the ledger), so unprintable characters become '?'."""
    return "".join(c if c.isprintable() else "?" for c in kind.decode("latin-1"))


@dataclass(frozen=True, slots=True)
class Box:
    type: bytes
    start: int  # offset of the box header
    header_size: int  # 8, or 16 with a 64-bit size
    size: int  # whole box, header included

    @property
    def body(self) -> int:
        return self.start + self.header_size

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def name(self) -> str:
        return printable_type(self.type)


def _damaged(what: str, detail: str) -> MediaError:
    return MediaError(ProblemCode.TRUNCATED, f"The {what} is damaged or cut short: {detail}.")


def _parse_header(raw: Buffer, pos: int, end: int, large: Buffer | None) -> tuple[bytes, int, int]:
    size, kind = _HEADER.unpack_from(raw)
    header = 8
    if size == 1:
        if large is None or len(large) < 8:
            raise ValueError
        size, header = _U64.unpack(large[:8])[0], 16
    elif size == 0:  # "extends to the end of the enclosing space"
        size = end - pos
    return kind, header, size


def top_level_boxes(f: BinaryIO | mmap.mmap, file_size: int, what: str) -> Iterator[Box]:
    """Headers of the boxes that make up the file, which must tile it exactly, one at a time
    (a file of a few thousand boxes or more is refused as malformed)."""
    budget = Budget(MAX_TOP_LEVEL_BOXES, what, "top-level boxes")
    pos = 0
    while pos < file_size:
        budget.take()
        f.seek(pos)
        raw = f.read(16)
        if len(raw) < 8:
            raise _damaged(what, f"{file_size - pos} stray bytes at the end")
        try:
            kind, header, size = _parse_header(raw, pos, file_size, raw[8:])
        except ValueError:
            raise _damaged(what, f"a box header at byte {pos:,} is cut off") from None
        if size < header:
            raise _damaged(what, f"the box at byte {pos:,} has an impossible size ({size})")
        if pos + size > file_size:
            raise _damaged(
                what,
                f"the '{printable_type(kind)}' box at byte {pos:,} claims {size:,} bytes "
                f"but only {file_size - pos:,} remain",
            )
        yield Box(kind, pos, header, size)
        pos += size


def child_boxes(
    buf: Buffer, start: int, end: int, what: str, budget: Budget | None = None
) -> Iterator[Box]:
    """Boxes inside `buf[start:end]`; offsets are positions in `buf`. Each one visited is taken
    from `budget` (the index's box count)."""
    pos = start
    while pos + 8 <= end:
        if budget is not None:
            budget.take()
        # A copy of the 16 header bytes, not a slice of the view: a slice kept alive by an
        # exception's traceback would stop the file's memory map from closing.
        raw = bytes(buf[pos : min(pos + 16, end)])
        try:
            kind, header, size = _parse_header(raw, pos, end, raw[8:])
        except ValueError:
            raise _damaged(what, f"a box header at index offset {pos:,} is cut off") from None
        if size < header or pos + size > end:
            raise _damaged(what, f"the '{printable_type(kind)}' box does not fit its parent")
        yield Box(kind, pos, header, size)
        pos += size


def find(
    buf: Buffer, box: Box, *path: bytes, what: str, budget: Budget | None = None
) -> Box | None:
    """The first box at `path` below `box` (e.g. b"mdia", b"mdhd"), or None."""
    current: Box | None = box
    for kind in path:
        if current is None:
            return None
        current = next(
            (
                b
                for b in child_boxes(buf, current.body, current.end, what, budget)
                if b.type == kind
            ),
            None,
        )
    return current


def index_budget(what: str) -> Budget:
    return Budget(MAX_INDEX_BOXES, what, "boxes in its index")


@dataclass(slots=True)
class Track:
    handler: bytes = b""
    width: float = 0.0
    height: float = 0.0
    rotation: int = 0  # clockwise degrees, from the tkhd matrix
    mirrored: bool = False
    timescale: int = 0
    duration: int = 0  # mdhd, in timescale units (a claim, not a measurement)
    sample_count: int = 0
    sample_duration: int = 0  # sum of stts deltas, in timescale units
    index_entries: int = 0  # what FFmpeg's index will hold: samples, or chunks if fixed-size
    sync_samples: int = 0  # key frames: the stss count, or every sample when there is no stss


@dataclass(slots=True)
class Movie:
    brand: bytes
    timescale: int
    duration: int
    tracks: list[Track] = field(default_factory=list)
    fragmented: bool = False


def read_movie(data: mmap.mmap, file_size: int, what: str = "video file") -> Movie:
    """Walk an MP4/MOV: tiling, one `moov`, and sample extents inside `mdat`. Raises MediaError."""
    moov: Box | None = None
    ftyp: Box | None = None
    mdats: list[tuple[int, int]] = []
    fragments: list[Box] = []
    for top in top_level_boxes(data, file_size, what):
        if top.type == b"moov":
            if moov is not None:
                raise MediaError(
                    ProblemCode.CORRUPT, f"The {what} has several indexes; expected one."
                )
            moov = top
        elif top.type == b"ftyp" and ftyp is None:
            ftyp = top
        elif top.type == b"mdat":
            mdats.append((top.body, top.end))
        elif top.type == b"moof":
            fragments.append(top)
    if moov is None:
        raise MediaError(
            ProblemCode.TRUNCATED,
            f"The {what} has no index ('moov' box); the recording or upload was probably "
            "interrupted before it finished.",
        )
    brand = bytes(data[ftyp.body : ftyp.body + 4]) if ftyp is not None and ftyp.size >= 12 else b""
    movie = Movie(brand=brand, timescale=0, duration=0)
    budget = index_budget(what)
    with memoryview(data) as view:
        buf = view[moov.start : moov.end]
        try:
            root = Box(b"moov", 0, moov.header_size, moov.size)
            for box in child_boxes(buf, root.body, root.end, what, budget):
                if box.type == b"mvhd":
                    movie.timescale, movie.duration = _timescale_duration(buf, box)
                elif box.type == b"mvex":
                    movie.fragmented = True
                elif box.type == b"trak":
                    movie.tracks.append(_read_track(buf, box, mdats, what, budget))
                elif box.type in {b"udta", b"meta"}:
                    _count_metadata(buf, box, what)
            samples = sum(t.index_entries for t in movie.tracks)
            if fragments:
                samples += _fragment_samples(view, fragments, what, budget)
        finally:
            buf.release()
    if samples > MAX_SAMPLES:
        raise too_many(what, samples, f"samples in its index (at most {MAX_SAMPLES:,} are read)")
    if movie.timescale <= 0:
        raise MediaError(ProblemCode.CORRUPT, f"The {what} index has no valid time scale.")
    return movie


def _count_metadata(buf: Buffer, box: Box, what: str) -> None:
    """Count the movie's metadata entries (`udta` atoms, `meta` → `ilst` items and `keys`).
    FFmpeg keeps each in a dictionary it searches linearly on every insertion, so a few
    hundred thousand distinct ones would take it minutes."""
    budget = Budget(MAX_METADATA_ITEMS, what, "metadata entries")
    body = box.body + (4 if box.type == b"meta" and is_full_meta(buf, box) else 0)
    for child in child_boxes(buf, body, box.end, what, budget):
        if child.type == b"meta":
            _count_metadata(buf, child, what)
        elif child.type == b"ilst":
            for _item in child_boxes(buf, child.body, child.end, what, budget):
                pass
        elif child.type == b"keys" and child.size >= child.header_size + 8:
            budget.take(_U32.unpack_from(buf, child.body + 4)[0])


def _fragment_samples(view: memoryview, fragments: list[Box], what: str, budget: Budget) -> int:
    """Samples the fragments (`moof` → `traf` → `trun`) add to FFmpeg's index. A `trun` can
    promise millions of samples in a dozen bytes, so the total is capped before FFmpeg reads it."""
    total = 0
    for moof in fragments:
        for traf in child_boxes(view, moof.body, moof.end, what, budget):
            if traf.type != b"traf":
                continue
            for trun in child_boxes(view, traf.body, traf.end, what, budget):
                if trun.type == b"trun" and trun.size >= trun.header_size + 8:
                    total += _U32.unpack_from(view, trun.body + 4)[0]
                    if total > MAX_SAMPLES:
                        return total
    return total


def _timescale_duration(buf: Buffer, box: Box) -> tuple[int, int]:
    """Timescale and duration of an mvhd/mdhd box (the layout is shared)."""
    version = buf[box.body]
    if version == 1:
        return _U32.unpack_from(buf, box.body + 20)[0], _U64.unpack_from(buf, box.body + 24)[0]
    return _U32.unpack_from(buf, box.body + 12)[0], _U32.unpack_from(buf, box.body + 16)[0]


def _read_track(
    buf: Buffer, trak: Box, mdats: list[tuple[int, int]], what: str, budget: Budget
) -> Track:
    track = Track()
    try:
        kids = {b.type: b for b in child_boxes(buf, trak.body, trak.end, what, budget)}
        if (tkhd := kids.get(b"tkhd")) is not None:
            _read_tkhd(buf, tkhd, track)
        for kind in (b"udta", b"meta"):  # FFmpeg makes these the stream's metadata
            if (tagged := kids.get(kind)) is not None:
                _count_metadata(buf, tagged, what)
        if (edts := kids.get(b"edts")) is not None:
            elst = find(buf, edts, b"elst", what=what, budget=budget)
            if elst is not None and (edits := _count(buf, elst)) > MAX_EDITS:
                raise too_many(what, edits, "entries in a track's edit list")
        mdia = kids.get(b"mdia")
        if mdia is None:
            return track
        parts = {b.type: b for b in child_boxes(buf, mdia.body, mdia.end, what, budget)}
        if (hdlr := parts.get(b"hdlr")) is not None:
            track.handler = bytes(buf[hdlr.body + 8 : hdlr.body + 12])
        if (mdhd := parts.get(b"mdhd")) is not None:
            track.timescale, track.duration = _timescale_duration(buf, mdhd)
        minf = parts.get(b"minf")
        stbl = find(buf, minf, b"stbl", what=what, budget=budget) if minf is not None else None
        if stbl is not None:
            _check_samples(buf, stbl, track, mdats, what, budget)
    except struct.error:
        raise _damaged(what, "a track header is shorter than its format requires") from None
    return track


def _read_tkhd(buf: Buffer, box: Box, track: Track) -> None:
    matrix_at = box.body + (52 if buf[box.body] == 1 else 40)
    a, b, _u, c, d = struct.unpack_from(">5i", buf, matrix_at)
    w, h = struct.unpack_from(">2I", buf, matrix_at + 36)
    track.width, track.height = w / 65536, h / 65536
    # QuickTime matrix maps (x, y) to (a·x + c·y, b·x + d·y); y grows downwards, so the angle of
    # the x axis, atan2(b, a), is the clockwise turn. Tools disagree on the sign convention.
    track.rotation = round(math.degrees(math.atan2(b, a)) / 90) % 4 * 90
    track.mirrored = a * d - b * c < 0


def _table(buf: Buffer, box: Box | None, typecode: str, offset: int, count: int) -> array[int]:
    values: array[int] = array(typecode)
    if box is None:
        return values
    start = box.body + offset
    end = start + count * values.itemsize
    if end > box.end:
        raise struct.error
    values.frombytes(buf[start:end])
    if values.itemsize > 1 and array("H", [1]).tobytes()[0] == 1:
        values.byteswap()  # tables are big-endian; this machine is little-endian
    return values


def _count(buf: Buffer, box: Box | None, at: int = 4) -> int:
    return 0 if box is None else _U32.unpack_from(buf, box.body + at)[0]


def _check_samples(
    buf: Buffer,
    stbl: Box,
    track: Track,
    mdats: list[tuple[int, int]],
    what: str,
    budget: Budget,
) -> None:
    kids = {b.type: b for b in child_boxes(buf, stbl.body, stbl.end, what, budget)}
    stts, stsz, stsc = kids.get(b"stts"), kids.get(b"stsz"), kids.get(b"stsc")
    chunk_table = kids.get(b"co64") or kids.get(b"stco")
    # Every count is checked before a table is read: the tables' lengths are the uploader's to
    # choose, up to the size of the file.
    sizes_listed = _count(buf, stsz, 8) if stsz is not None else _count(buf, kids.get(b"stz2"), 8)
    chunks, runs_listed, times_listed = (
        _count(buf, chunk_table),
        _count(buf, stsc),
        _count(buf, stts),
    )
    fixed = _U32.unpack_from(buf, stsz.body + 4)[0] if stsz is not None else 0
    track.index_entries = chunks if fixed else sizes_listed
    if track.index_entries > MAX_SAMPLES:
        raise too_many(what, track.index_entries, "samples in a track's index")
    samples = sizes_listed if stsz is not None or b"stz2" in kids else None
    for kind, listed in (
        ("times", times_listed),
        ("chunks", chunks),
        ("composition offsets", _count(buf, kids.get(b"ctts"))),
        ("key frames", _count(buf, kids.get(b"stss"))),
    ):
        if samples is not None and listed > max(samples, 1):
            raise _inconsistent(what, f"{listed:,} sample {kind} for {samples:,} samples")
    if samples is None and times_listed > MAX_SAMPLES:
        raise too_many(what, times_listed, "entries in a track's time table")
    if runs_listed > max(chunks, 1):
        raise _inconsistent(what, f"{runs_listed:,} chunk runs for {chunks:,} chunks")
    deltas = _table(buf, stts, "I", 8, 2 * times_listed)
    track.sample_count = sum(deltas[0::2])
    stss = kids.get(b"stss")
    track.sync_samples = _count(buf, stss) if stss is not None else track.sample_count
    track.sample_duration = sum(n * d for n, d in zip(deltas[0::2], deltas[1::2], strict=True))
    if stsz is None:
        return  # fragmented files (or stz2) keep sizes elsewhere; the packet walk measures them
    if stts is not None and sizes_listed != track.sample_count:
        raise _inconsistent(
            what, f"{sizes_listed} sample sizes for {track.sample_count} sample times"
        )
    sizes = _table(buf, stsz, "I", 12, 0 if fixed else sizes_listed)
    offsets = _table(buf, chunk_table, "Q" if b"co64" in kids else "I", 8, chunks)
    runs = _table(buf, stsc, "I", 8, 3 * runs_listed)
    _check_chunks(offsets, runs, fixed, sizes_listed, sizes, mdats, what)


def _inconsistent(what: str, detail: str) -> MediaError:
    return MediaError(ProblemCode.CORRUPT, f"The {what} index is inconsistent: {detail}.")


def _check_chunks(
    offsets: array[int],
    runs: array[int],
    fixed: int,
    count: int,
    sizes: array[int],
    mdats: list[tuple[int, int]],
    what: str,
) -> None:
    """Every chunk's samples must lie inside one `mdat`; a file cut short fails here.

    Memory stays at 8 bytes a sample even for PCM tracks with millions of tiny samples.
    """
    prefix: array[int] = array("Q", [0])
    if not fixed:
        prefix.extend(accumulate(sizes))
    firsts, per_chunk = runs[0::3], runs[1::3]
    sample, run = 0, 0
    for index, offset in enumerate(offsets, start=1):
        while run + 1 < len(firsts) and firsts[run + 1] <= index:
            run += 1
        n = per_chunk[run] if per_chunk else 0
        lo, hi = min(sample, count), min(sample + n, count)
        end = offset + ((hi - lo) * fixed if fixed else prefix[hi] - prefix[lo])
        sample += n
        if not any(lo <= offset and end <= hi for lo, hi in mdats):
            raise _damaged(
                what,
                f"its index points at media data (bytes {offset:,}–{end:,}) that is not "
                "in the file",
            )
    if sample < count:
        raise _damaged(what, f"{count - sample} samples are not placed in any chunk")


@dataclass(frozen=True, slots=True)
class Item:
    """One HEIF item (an image, its Exif block, XMP…) and where its bytes are in the file."""

    id: int
    type: bytes
    content_type: str
    extents: tuple[tuple[int, int], ...]  # (absolute offset, length)


def is_full_meta(buf: Buffer, meta: Box) -> bool:
    """ISO `meta` boxes carry version/flags before their children; QuickTime ones don't."""
    return buf[meta.body + 4 : meta.body + 8] != b"hdlr"


def read_items(buf: Buffer, meta: Box, base: int, what: str) -> list[Item]:
    """Items of an ISO `meta` box (HEIF). `base` is the file offset of `buf[0]`. At most
    `MAX_HEIF_ITEMS` items and extents, and `MAX_INDEX_BOXES` boxes, are read."""
    budget = index_budget(what)
    body = meta.body + (4 if is_full_meta(buf, meta) else 0)
    kids = {b.type: b for b in child_boxes(buf, body, meta.end, what, budget)}
    for container in (b"iprp", b"iref", b"dinf"):
        # libheif reads these too: their boxes count against the same cap.
        if (box := kids.get(container)) is not None:
            _count_boxes(buf, box, what, budget)
    types: dict[int, tuple[bytes, str]] = {}
    iinf = kids.get(b"iinf")
    if iinf is not None:
        start = iinf.body + (6 if buf[iinf.body] == 0 else 8)
        for infe in child_boxes(buf, start, iinf.end, what, budget):
            if infe.type != b"infe" or buf[infe.body] < 2:
                continue
            at = infe.body + 4
            if buf[infe.body] == 2:
                item_id, at = struct.unpack_from(">H", buf, at)[0], at + 2
            else:
                item_id, at = _U32.unpack_from(buf, at)[0], at + 4
            kind = bytes(buf[at + 2 : at + 6])
            strings = bytes(buf[at + 6 : infe.end]).split(b"\0")
            content = strings[1].decode("utf-8", "replace") if len(strings) > 1 else ""
            types[item_id] = (kind, content if kind == b"mime" else "")
    idat = kids.get(b"idat")
    iloc = kids.get(b"iloc")
    if iloc is None:
        return []
    return [
        Item(item_id, *types.get(item_id, (b"", "")), extents)
        for item_id, extents in _read_iloc(buf, iloc, base, idat, what)
    ]


def _count_boxes(buf: Buffer, parent: Box, what: str, budget: Budget) -> None:
    """Visit every box below `parent` (containers of item properties and references)."""
    for child in child_boxes(buf, parent.body, parent.end, what, budget):
        if child.type in {b"ipco", b"iprp"}:
            _count_boxes(buf, child, what, budget)


def _read_iloc(
    buf: Buffer, iloc: Box, base: int, idat: Box | None, what: str
) -> Iterator[tuple[int, tuple[tuple[int, int], ...]]]:
    version = buf[iloc.body]
    at = iloc.body + 4
    offset_size, length_size = buf[at] >> 4, buf[at] & 15
    base_size, index_size = buf[at + 1] >> 4, (buf[at + 1] & 15) if version else 0
    at += 2

    def read(n: int) -> int:
        nonlocal at
        value = int.from_bytes(buf[at : at + n], "big") if n else 0
        at += n
        return value

    count = read(2 if version < 2 else 4)
    # An extent can take no bytes at all (offset and length sizes of zero), so the box's own size
    # doesn't bound the loop: the counts do.
    budget = Budget(MAX_HEIF_ITEMS, what, "items and item pieces")
    budget.take(count)
    for _ in range(count):
        item_id = read(2 if version < 2 else 4)
        method = read(2) & 15 if version else 0
        read(2)  # data_reference_index
        base_offset = read(base_size)
        extents = []
        pieces = read(2)
        budget.take(pieces)
        for _ in range(pieces):
            read(index_size)
            offset, length = base_offset + read(offset_size), read(length_size)
            if method == 1 and idat is not None:
                offset += base + idat.body
            extents.append((offset, length))
        if at > iloc.end:
            raise struct.error
        yield item_id, tuple(extents)

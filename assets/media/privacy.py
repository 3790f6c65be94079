"""Strip location and device identity from a stored file before it is forwarded upstream.

`strip_location_metadata(path)` edits the file in place and never re-encodes: picture and sound
data stay byte for byte, and the orientation (EXIF tag, video track matrix) is left alone so the
face check and the upstream see the person upright. What goes:

- EXIF (JPEG, PNG, WebP, HEIC): GPS, make/model, serial numbers, owner, lens identity, maker
  note (see exif.py).
- XMP packets (they repeat GPS and camera fields), JPEG APP13/IPTC (place names), and the JPEG
  multi-picture index together with everything after the primary image's end (secondary
  pictures and motion-photo videos carry their own metadata; the upstream needs only the
  primary picture).
- MP4/MOV: `©xyz`/`loci` locations, `©mak`/`©mod` make and model, XMP boxes, and any `meta`
  box whose keys name a location or the device (Apple's `com.apple.quicktime.location.ISO6709`
  and friends). Boxes are turned into `free` boxes of equal size with zeroed contents, so every
  sample offset in the index stays valid.

MP4, MOV and HEIC are edited where they lie (a 50 MB video costs a walk over its boxes, not a
copy); JPEG, PNG and WebP, whose segments can't shrink in place, are written out again beside the
file and renamed over it, streamed from a memory map, only when something had to go. GIF, MP3
and WAV are left unchanged: none of their usual writers record a location. Raises MetadataError
when a file's structure is too damaged to edit safely; such a file must not be forwarded
(intake's `inspect` refuses it first anyway).
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from assets.media import boxes, exif
from assets.media.bounds import MAX_PNG_CHUNKS, MAX_RIFF_CHUNKS, Budget
from assets.media.facts import MediaError
from assets.media.layout import JPEG_MARKER, Buffer, jpeg_end
from assets.media.sniff import FORMATS, sniff_mime

_IN_PLACE = frozenset({"MP4", "MOV", "HEIC"})
_UNTOUCHED = frozenset({"GIF", "MP3", "WAV"})


class MetadataError(ValueError):
    """The file can't be scrubbed safely; don't forward it."""


def strip_location_metadata(path: Path, *, orientation: int | None = None) -> bool:
    """Remove location and device metadata from the file at `path`, in place (see the module
    doc). Returns whether its bytes changed.

    `orientation` is the EXIF orientation the probe saw (`MediaFacts.orientation`): an EXIF
    block too damaged to edit is replaced by one holding that orientation alone, so the stored
    copy shows the picture as it was checked. Without it, the orientation is read from the
    block's first IFD as leniently as viewers do.

    Raises MetadataError when the file can't be scrubbed safely; a JPEG, PNG or WebP is then
    left as it was.
    """
    size = path.stat().st_size
    fmt = _format_of(path, size)
    if fmt in _UNTOUCHED:
        return False
    try:
        if fmt in _IN_PLACE:
            # Edits through a shared mapping are in the page cache at once, for every reader.
            # No flush(): msync would also write out the whole freshly uploaded file (~20 ms).
            with path.open("r+b") as f, mmap.mmap(f.fileno(), 0) as data:
                return _strip_iso(data, size, fmt)
        with (
            path.open("rb") as source,
            mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            if fmt == "JPEG":
                pieces = _jpeg_pieces(data, size, orientation)
            elif fmt == "PNG":
                pieces = _png_pieces(data, size, orientation)
            else:
                pieces = _webp_pieces(data, size, orientation)
            if pieces.unchanged(size):
                return False
            _rewrite(path, data, pieces)
            return True
    except (MediaError, struct.error, IndexError, ValueError) as exc:
        raise MetadataError(f"can't scrub {path.name}: {exc}") from exc


def _format_of(path: Path, size: int) -> str:
    if size == 0:
        raise MetadataError(f"{path.name} is empty")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        mime = sniff_mime(data, size)
    if mime is None:
        raise MetadataError(f"{path.name} is not a media file this module knows")
    return FORMATS[mime][1]


class _Pieces:
    """The cleaned file as ranges of the original, kept, and new bytes in between."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int] | bytes] = []

    def keep(self, start: int, end: int) -> None:
        last = self.items[-1] if self.items else None
        if isinstance(last, tuple) and last[1] == start:
            self.items[-1] = (last[0], end)  # adjacent ranges read as one
        elif end > start:
            self.items.append((start, end))

    def put(self, data: bytes) -> None:
        self.items.append(data)

    def unchanged(self, size: int) -> bool:
        return self.items == [(0, size)]


def _rewrite(path: Path, data: mmap.mmap, pieces: _Pieces) -> None:
    """Write the pieces beside `path`, then rename the result over it: a crash leaves either the
    old file or the new one, never half of each."""
    scratch = path.with_name(f".{path.name}.scrubbing")
    try:
        with (
            memoryview(data) as view,
            open(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out,
        ):
            for piece in pieces.items:
                out.write(view[piece[0] : piece[1]] if isinstance(piece, tuple) else piece)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


_XMP_JPEG = b"http://ns.adobe.com/xap/1.0/\0"
_XMP_EXT_JPEG = b"http://ns.adobe.com/xmp/extension/\0"


def _scrubbed_exif(payload: bytes, tiff_at: int, orientation: int | None) -> bytes:
    """`payload` with its TIFF block (from `tiff_at`) scrubbed. A block too damaged to edit is
    replaced by one holding only its orientation (the probe read it, so the facts, the face
    check and the forwarded picture must keep agreeing), or blanked if even that is unreadable.
    The size never changes."""
    buf = bytearray(payload)
    try:
        exif.scrub_tiff(buf, tiff_at, len(buf))
    except exif.ExifError:
        turn = orientation or exif.orientation(payload, tiff_at, len(payload))
        if turn is not None and turn != 1 and len(buf) - tiff_at >= exif.MINIMAL_LENGTH:
            buf[tiff_at:] = exif.minimal(turn, len(buf) - tiff_at)
        else:
            exif.blank(buf, tiff_at, len(buf))
    return bytes(buf)


def _jpeg_pieces(data: Buffer, size: int, orientation: int | None) -> _Pieces:
    end = jpeg_end(data, size)  # validates the structure; everything after it is dropped
    pieces = _Pieces()
    pieces.keep(0, 2)
    pos = 2
    while pos < end:
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before a marker: not copied
            pos += 1
            continue
        if marker == 0xD9 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pieces.keep(pos, pos + 2)
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        segment_end = pos + 2 + length
        if marker == 0xDA:
            # Scan header plus its entropy-coded data, verbatim, up to the next marker.
            match = JPEG_MARKER.search(data, segment_end)
            following = match.start() if match else end
            pieces.keep(pos, following)
            pos = following
            continue
        body = bytes(data[pos + 4 : segment_end])
        if marker == 0xE1 and body.startswith(b"Exif\0\0"):
            scrubbed = _scrubbed_exif(body, 6, orientation)
            if scrubbed == body:
                pieces.keep(pos, segment_end)
            else:
                pieces.put(bytes(data[pos : pos + 4]) + scrubbed)
        elif (marker == 0xE1 and body.startswith((_XMP_JPEG, _XMP_EXT_JPEG))) or (
            marker == 0xED or (marker == 0xE2 and body.startswith(b"MPF\0"))
        ):
            pass  # XMP; Photoshop/IPTC; the multi-picture index (its pictures are dropped)
        else:
            pieces.keep(pos, segment_end)
        pos = segment_end
    return pieces


_PNG_DROP_TEXT = (
    b"XML:com.adobe.xmp\0",
    b"Raw profile type exif\0",
    b"Raw profile type APP1\0",
    b"Raw profile type xmp\0",
    b"Raw profile type iptc\0",
)
_PNG_KEYWORD_PEEK = max(len(keyword) for keyword in _PNG_DROP_TEXT)


def _png_pieces(data: Buffer, size: int, orientation: int | None) -> _Pieces:
    pieces = _Pieces()
    pieces.keep(0, 8)
    pos = 8
    budget = Budget(MAX_PNG_CHUNKS, "PNG image", "chunks")
    while pos + 12 <= size:
        budget.take()
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunk_end = pos + 12 + length
        keyword = bytes(data[pos + 8 : pos + 8 + min(length, _PNG_KEYWORD_PEEK)])
        if kind in {b"tEXt", b"zTXt", b"iTXt"} and keyword.startswith(_PNG_DROP_TEXT):
            pass
        elif kind == b"eXIf":
            body = bytes(data[pos + 8 : pos + 8 + length])
            scrubbed = _scrubbed_exif(body, 0, orientation)
            if scrubbed == body:
                pieces.keep(pos, chunk_end)
            else:
                pieces.put(struct.pack(">I4s", length, kind) + scrubbed)
                pieces.put(struct.pack(">I", zlib.crc32(kind + scrubbed)))
        else:
            pieces.keep(pos, chunk_end)
        pos = chunk_end
        if kind == b"IEND":
            break
    return pieces


def _webp_pieces(data: Buffer, size: int, orientation: int | None) -> _Pieces:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = min(size, 8 + riff_size)
    chunks = _Pieces()
    length_out = 4  # "WEBP"
    pos = 12
    budget = Budget(MAX_RIFF_CHUNKS, "WebP image", "chunks")
    while pos + 8 <= end:
        budget.take()
        kind, length = struct.unpack_from("<4sI", data, pos)
        chunk_end = pos + 8 + length + (length & 1)
        if kind == b"XMP ":
            pos = chunk_end
            continue
        if kind == b"EXIF":
            body = bytes(data[pos + 8 : pos + 8 + length])
            scrubbed = _scrubbed_exif(body, 6 if body.startswith(b"Exif\0\0") else 0, orientation)
            if scrubbed == body:
                chunks.keep(pos, chunk_end)
            else:
                chunks.put(bytes(data[pos : pos + 8]) + scrubbed + bytes(length & 1))
        elif kind == b"VP8X" and data[pos + 8] & 0x04:
            # Clear the "has XMP" flag: the packet itself is dropped above.
            chunks.put(bytes(data[pos : pos + 8]) + bytes([data[pos + 8] & ~0x04 & 0xFF]))
            chunks.keep(pos + 9, chunk_end)
        else:
            chunks.keep(pos, chunk_end)
        length_out += min(chunk_end, size) - pos
        pos = chunk_end
    pieces = _Pieces()
    if length_out == riff_size:
        pieces.keep(0, 12)
    else:
        pieces.put(b"RIFF" + struct.pack("<I", length_out) + b"WEBP")
    for piece in chunks.items:
        if isinstance(piece, tuple):
            pieces.keep(*piece)
        else:
            pieces.put(piece)
    return pieces


_XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
# udta/ilst entries naming a place or the device.
_ISO_DROP = frozenset({b"\xa9xyz", b"loci", b"\xa9mak", b"\xa9mod", b"XMP_", b"manu", b"modl"})
_KEY_WORDS = (b"location", b"make", b"model", b"serial", b"gps")
_ISO_DESCEND = frozenset({b"moov", b"trak", b"udta", b"mdia", b"minf"})


def _strip_iso(data: mmap.mmap, size: int, fmt: str) -> bool:
    what = "HEIC image" if fmt == "HEIC" else "video file"
    changed = False
    for box in boxes.top_level_boxes(data, size, what):
        if box.type == b"uuid" and data[box.body : box.body + 16] == _XMP_UUID:
            _free(data, box)
            changed = True
        elif box.type == b"moov":
            changed |= _strip_moov(data, box, what)
        elif box.type == b"meta" and fmt == "HEIC":
            changed |= _strip_heif_items(data, box, what)
    return changed


def _free(data: mmap.mmap, box: boxes.Box) -> None:
    """Turn `box` into a `free` box of the same size with zeroed contents."""
    data[box.start + 4 : box.start + 8] = b"free"
    data[box.body : box.end] = bytes(box.end - box.body)


def _strip_moov(data: mmap.mmap, moov: boxes.Box, what: str) -> bool:
    budget = boxes.index_budget(what)
    with memoryview(data) as view:
        buf = view[moov.start : moov.end]
        try:
            local = boxes.Box(moov.type, 0, moov.header_size, moov.size)
            targets = _targets(buf, local, what, budget)
        finally:
            buf.release()
    for t in targets:
        _free(data, boxes.Box(t.type, moov.start + t.start, t.header_size, t.size))
    return bool(targets)


def _targets(buf: memoryview, parent: boxes.Box, what: str, budget: Budget) -> list[boxes.Box]:
    """Boxes below `parent` (offsets relative to `buf`) that must become `free`."""
    found: list[boxes.Box] = []
    for child in boxes.child_boxes(buf, parent.body, parent.end, what, budget):
        xmp = child.type == b"uuid" and buf[child.body : child.body + 16] == _XMP_UUID
        if (
            child.type in _ISO_DROP
            or xmp
            or (child.type == b"meta" and _meta_identifies(buf, child, what, budget))
        ):
            found.append(child)
        elif child.type in _ISO_DESCEND:
            found.extend(_targets(buf, child, what, budget))
    return found


def _meta_identifies(buf: memoryview, meta: boxes.Box, what: str, budget: Budget) -> bool:
    """Whether a `meta` box holds a location or device entry (QuickTime keys or iTunes ilst)."""
    body = meta.body + (4 if boxes.is_full_meta(buf, meta) else 0)
    for child in boxes.child_boxes(buf, body, meta.end, what, budget):
        if child.type == b"keys":
            content = bytes(buf[child.body : child.end]).lower()
            if any(word in content for word in _KEY_WORDS):
                return True
        if child.type == b"ilst" and any(
            item.type in _ISO_DROP
            for item in boxes.child_boxes(buf, child.body, child.end, what, budget)
        ):
            return True
    return False


_XMP_EMPTY = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
)
_XMP_END = b'<?xpacket end="w"?>'


def _strip_heif_items(data: mmap.mmap, meta: boxes.Box, what: str) -> bool:
    with memoryview(data) as view:
        buf = view[meta.start : meta.end]
        try:
            local = boxes.Box(meta.type, 0, meta.header_size, meta.size)
            items = boxes.read_items(buf, local, meta.start, what)
        finally:
            buf.release()
    changed = False
    for item in items:
        if item.type == b"Exif":
            changed |= _edit_extents(data, item.extents, _scrub_heif_exif)
        elif item.type == b"mime" and ("xmp" in item.content_type or "rdf" in item.content_type):
            changed |= _edit_extents(data, item.extents, _empty_xmp)
    return changed


def _scrub_heif_exif(payload: bytes) -> bytes:
    # A HEIF Exif item starts with a 4-byte offset from its end to the TIFF header. The picture
    # turns by the container's own rotation (libheif applies it), not by this block's value,
    # so the value kept in a damaged block is the one it held.
    (skip,) = struct.unpack_from(">I", payload, 0)
    return _scrubbed_exif(payload, 4 + skip, None)


def _empty_xmp(payload: bytes) -> bytes:
    """An empty XMP packet padded with spaces (which the XMP spec allows) to the same length."""
    if len(payload) < len(_XMP_EMPTY) + len(_XMP_END):
        return b" " * len(payload)
    pad = len(payload) - len(_XMP_EMPTY) - len(_XMP_END)
    return _XMP_EMPTY + b" " * pad + _XMP_END


def _edit_extents(
    data: mmap.mmap, extents: tuple[tuple[int, int], ...], edit: Callable[[bytes], bytes]
) -> bool:
    """Apply `edit` to an item's bytes gathered across its extents and scatter them back;
    returns whether they changed."""
    payload = b"".join(data[o : o + n] for o, n in extents)
    edited = edit(payload)
    if len(edited) != len(payload):
        raise ValueError("item edit changed its size")
    if edited == payload:
        return False
    at = 0
    for offset, length in extents:
        data[offset : offset + length] = edited[at : at + length]
        at += length
    return True

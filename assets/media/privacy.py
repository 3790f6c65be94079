"""Strip location and device identity from a file before it is forwarded upstream.

`strip_location_metadata(src, dst)` never re-encodes: picture and sound data are copied byte for
byte, and the orientation (EXIF tag, video track matrix) is left alone so the face check and the
upstream see the person upright. What goes:

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

GIF, MP3 and WAV are copied unchanged: none of their usual writers record a location. Raises
MetadataError when a file's structure is too damaged to edit safely; such a file must not be
forwarded (intake's `inspect` refuses it first anyway).
"""

from __future__ import annotations

import mmap
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from assets.media import boxes, exif
from assets.media.facts import MediaError
from assets.media.layout import JPEG_MARKER, jpeg_end
from assets.media.sniff import FORMATS, sniff_mime


class MetadataError(ValueError):
    """The file can't be scrubbed safely; don't forward it."""


def strip_location_metadata(src: Path, dst: Path) -> None:
    """Write to `dst` (a different path) a copy of `src` without location and device metadata.

    See the module doc for what is removed. Raises MetadataError, leaving no `dst`, when the
    file can't be scrubbed safely.
    """
    if src.resolve() == dst.resolve():
        raise ValueError("strip_location_metadata writes a copy: dst must differ from src")
    fmt = FORMATS.get(sniff_mime(src), ("", ""))[1]
    try:
        if fmt in {"MP4", "MOV", "HEIC"}:
            shutil.copyfile(src, dst)  # edited in place below; sizes never change
            with dst.open("r+b") as f:
                _strip_iso(f, dst.stat().st_size, fmt)
            return
        data = src.read_bytes()
        if fmt == "JPEG":
            data = _strip_jpeg(data)
        elif fmt == "PNG":
            data = _strip_png(data)
        elif fmt == "WEBP":
            data = _strip_webp(data)
        elif fmt not in {"GIF", "MP3", "WAV"}:
            raise MetadataError(f"{src.name} is not a media file this module knows")
        dst.write_bytes(data)
    except (MediaError, struct.error, IndexError, ValueError) as exc:
        dst.unlink(missing_ok=True)
        raise MetadataError(f"can't scrub {src.name}: {exc}") from exc


_XMP_JPEG = b"http://ns.adobe.com/xap/1.0/\0"
_XMP_EXT_JPEG = b"http://ns.adobe.com/xmp/extension/\0"


def _scrubbed_exif(payload: bytes, tiff_at: int) -> bytes:
    """`payload` with its TIFF block (from `tiff_at`) scrubbed, or blanked if unparsable."""
    buf = bytearray(payload)
    try:
        exif.scrub_tiff(buf, tiff_at, len(buf))
    except exif.ExifError:
        exif.blank(buf, tiff_at, len(buf))
    return bytes(buf)


def _strip_jpeg(data: bytes) -> bytes:
    end = jpeg_end(data, len(data))  # validates the structure; everything after it is dropped
    out = bytearray(data[:2])
    pos = 2
    while pos < end:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += data[pos : pos + 2]
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        segment = data[pos : pos + 2 + length]
        body = segment[4:]
        if marker == 0xDA:
            # Scan header plus its entropy-coded data, verbatim, up to the next marker.
            match = JPEG_MARKER.search(data, pos + 2 + length)
            nxt = match.start() if match else end
            out += data[pos:nxt]
            pos = nxt
            continue
        pos += 2 + length
        if marker == 0xE1 and body.startswith(b"Exif\0\0"):
            segment = segment[:4] + _scrubbed_exif(body, 6)
        elif marker == 0xE1 and body.startswith((_XMP_JPEG, _XMP_EXT_JPEG)):
            continue
        elif marker == 0xED or (marker == 0xE2 and body.startswith(b"MPF\0")):
            continue  # Photoshop/IPTC; multi-picture index (its pictures are dropped)
        out += segment
    return bytes(out)


_PNG_DROP_TEXT = (
    b"XML:com.adobe.xmp\0",
    b"Raw profile type exif\0",
    b"Raw profile type APP1\0",
    b"Raw profile type xmp\0",
    b"Raw profile type iptc\0",
)


def _strip_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    pos = 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        chunk_end = pos + 12 + length
        pos = chunk_end
        if kind in {b"tEXt", b"zTXt", b"iTXt"} and body.startswith(_PNG_DROP_TEXT):
            continue
        if kind == b"eXIf":
            body = _scrubbed_exif(body, 0)
        out += struct.pack(">I4s", length, kind) + body
        out += struct.pack(">I", zlib.crc32(kind + body))
        if kind == b"IEND":
            break
    return bytes(out)


def _strip_webp(data: bytes) -> bytes:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = min(len(data), 8 + riff_size)
    chunks = bytearray()
    pos = 12
    while pos + 8 <= end:
        kind, length = struct.unpack_from("<4sI", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        pad = b"\0" if length & 1 else b""
        pos += 8 + length + len(pad)
        if kind == b"XMP ":
            continue
        if kind == b"EXIF":
            tiff_at = 6 if body.startswith(b"Exif\0\0") else 0
            body = _scrubbed_exif(body, tiff_at)
        elif kind == b"VP8X":
            body = bytes([body[0] & ~0x04]) + body[1:]  # clear the "has XMP" flag
        chunks += struct.pack("<4sI", kind, length) + body + pad
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + bytes(chunks)


_XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
# udta/ilst entries naming a place or the device.
_ISO_DROP = frozenset({b"\xa9xyz", b"loci", b"\xa9mak", b"\xa9mod", b"XMP_", b"manu", b"modl"})
_KEY_WORDS = (b"location", b"make", b"model", b"serial", b"gps")
_ISO_DESCEND = frozenset({b"moov", b"trak", b"udta", b"mdia", b"minf"})


def _strip_iso(f: BinaryIO, size: int, fmt: str) -> None:
    what = "HEIC image" if fmt == "HEIC" else "video file"
    with mmap.mmap(f.fileno(), 0) as data:
        for box in boxes.top_level_boxes(data, size, what):
            if box.type == b"uuid" and data[box.body : box.body + 16] == _XMP_UUID:
                _free(data, box)
            elif box.type == b"moov":
                _strip_moov(data, box, what)
            elif box.type == b"meta" and fmt == "HEIC":
                _strip_heif_items(data, box, what)
        data.flush()


def _free(data: mmap.mmap, box: boxes.Box) -> None:
    """Turn `box` into a `free` box of the same size with zeroed contents."""
    data[box.start + 4 : box.start + 8] = b"free"
    data[box.body : box.end] = bytes(box.end - box.body)


def _strip_moov(data: mmap.mmap, moov: boxes.Box, what: str) -> None:
    buf = data[moov.start : moov.end]
    local = boxes.Box(moov.type, 0, moov.header_size, moov.size)
    for t in _targets(buf, local, what):
        _free(data, boxes.Box(t.type, moov.start + t.start, t.header_size, t.size))


def _targets(buf: bytes, parent: boxes.Box, what: str) -> list[boxes.Box]:
    """Boxes below `parent` (offsets relative to `buf`) that must become `free`."""
    found: list[boxes.Box] = []
    for child in boxes.child_boxes(buf, parent.body, parent.end, what):
        xmp = child.type == b"uuid" and buf[child.body : child.body + 16] == _XMP_UUID
        if (
            child.type in _ISO_DROP
            or xmp
            or (child.type == b"meta" and _meta_identifies(buf, child, what))
        ):
            found.append(child)
        elif child.type in _ISO_DESCEND:
            found.extend(_targets(buf, child, what))
    return found


def _meta_identifies(buf: bytes, meta: boxes.Box, what: str) -> bool:
    """Whether a `meta` box holds a location or device entry (QuickTime keys or iTunes ilst)."""
    body = meta.body + (4 if boxes.is_full_meta(buf, meta) else 0)
    for child in boxes.child_boxes(buf, body, meta.end, what):
        content = buf[child.body : child.end].lower()
        if child.type == b"keys" and any(word in content for word in _KEY_WORDS):
            return True
        if child.type == b"ilst" and any(
            item.type in _ISO_DROP for item in boxes.child_boxes(buf, child.body, child.end, what)
        ):
            return True
    return False


_XMP_EMPTY = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
)
_XMP_END = b'<?xpacket end="w"?>'


def _strip_heif_items(data: mmap.mmap, meta: boxes.Box, what: str) -> None:
    buf = data[meta.start : meta.end]
    local = boxes.Box(meta.type, 0, meta.header_size, meta.size)
    for item in boxes.read_items(buf, local, meta.start, what):
        if item.type == b"Exif":
            _edit_extents(data, item.extents, _scrub_heif_exif)
        elif item.type == b"mime" and ("xmp" in item.content_type or "rdf" in item.content_type):
            _edit_extents(data, item.extents, _empty_xmp)


def _scrub_heif_exif(payload: bytes) -> bytes:
    # A HEIF Exif item starts with a 4-byte offset from its end to the TIFF header.
    (skip,) = struct.unpack_from(">I", payload, 0)
    return _scrubbed_exif(payload, 4 + skip)


def _empty_xmp(payload: bytes) -> bytes:
    """An empty XMP packet padded with spaces (which the XMP spec allows) to the same length."""
    if len(payload) < len(_XMP_EMPTY) + len(_XMP_END):
        return b" " * len(payload)
    pad = len(payload) - len(_XMP_EMPTY) - len(_XMP_END)
    return _XMP_EMPTY + b" " * pad + _XMP_END


def _edit_extents(
    data: mmap.mmap, extents: tuple[tuple[int, int], ...], edit: Callable[[bytes], bytes]
) -> None:
    """Apply `edit` to an item's bytes gathered across its extents, and scatter them back."""
    payload = b"".join(data[o : o + n] for o, n in extents)
    changed = edit(payload)
    if len(changed) != len(payload):
        raise ValueError("item edit changed its size")
    at = 0
    for offset, length in extents:
        data[offset : offset + length] = changed[at : at + length]
        at += length

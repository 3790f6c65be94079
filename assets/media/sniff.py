"""What a file really is: its own signature against the allow-list, and foreign formats inside it.

The browser's content type and the file name are never consulted here: both are whatever the
uploader's machine says. The content's signature decides the kind, and the format's own parser
must then agree (see probe.py).

Every allowed format announces itself in its first bytes, so `sniff_mime` reads a fixed handful
of them (plus the ID3 tag's length for MP3) instead of asking libmagic, which costs 0.3–0.5 ms a
file and, from the first 64 KB alone, missed an MP3 behind a large cover picture. The table
decides as libmagic 5.44 does for every allowed format (tests/media/test_sniff.py checks this
against libmagic), except where noted. libmagic still names what a refused file looks like
(`describe`), where its cost doesn't matter.
"""

from __future__ import annotations

import mmap
import re
import struct
from pathlib import Path
from typing import Final

import magic

from assets.media.facts import Kind

Buffer = bytes | mmap.mmap

# MIME type -> (kind, our format name). Names follow CONTRACT.md §3; the MIME types are the ones
# libmagic gives, so stored content types read as they did before.
FORMATS: Final[dict[str, tuple[Kind, str]]] = {
    "image/jpeg": ("image", "JPEG"),
    "image/png": ("image", "PNG"),
    "image/webp": ("image", "WEBP"),
    "image/gif": ("image", "GIF"),
    "image/heic": ("image", "HEIC"),
    "image/heif": ("image", "HEIC"),
    "video/mp4": ("video", "MP4"),
    "video/quicktime": ("video", "MOV"),
    "audio/mpeg": ("audio", "MP3"),
    "audio/x-wav": ("audio", "WAV"),
}

# File-name extensions a person may reasonably use for each format.
EXTENSIONS: Final[dict[str, frozenset[str]]] = {
    "JPEG": frozenset({"jpg", "jpeg", "jpe", "jfif"}),
    "PNG": frozenset({"png"}),
    "WEBP": frozenset({"webp"}),
    "GIF": frozenset({"gif"}),
    "HEIC": frozenset({"heic", "heif", "hif"}),
    "MP4": frozenset({"mp4", "m4v"}),
    "MOV": frozenset({"mov", "qt"}),
    "MP3": frozenset({"mp3"}),
    "WAV": frozenset({"wav", "wave"}),
}


def display_name(fmt: str) -> str:
    """How people write the format's name ("WebP", not "WEBP")."""
    return "WebP" if fmt == "WEBP" else fmt


_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"  # the signature, then IHDR as the first chunk
# ISO base media files (MP4, MOV, HEIF) name their family in the `ftyp` box's major brand.
_HEIC_BRANDS = frozenset({b"heic", b"heix"})
_HEIF_BRANDS = frozenset({b"mif1", b"heim", b"heis", b"avic"})
# libmagic also calls the DRM-protected brands M4P and F4P "video/mp4"; nothing can decode them
# without the key, so they are refused here as files of an unknown type.
_MP4_BRANDS = frozenset(
    {b"mp41", b"mp42", b"avc1", b"dash", b"mmp4", b"mobi", b"F4V ", b"ARRI", b"bbxm", b"niko"}
    # Nero Digital profiles
    | {b"NDSC", b"NDSH", b"NDSM", b"NDSP", b"NDSS", b"NDXC", b"NDXH", b"NDXM", b"NDXP"}
)
# QuickTime files from before `ftyp` existed start with their index or their media data.
_LEGACY_QUICKTIME = frozenset({b"moov", b"mdat"})


def sniff_mime(data: Buffer, size: int) -> str | None:
    """The MIME type (a key of `FORMATS`) of the allowed format `data` starts as, or None.

    `data` is the whole file (an mmap is fine: only a few bytes are read). Only MPEG-1/2/2.5
    layer III counts as MP3: layer I and II streams, which libmagic also calls audio/mpeg, are
    not what the upstream takes.
    """
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(_PNG):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/x-wav"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _iso_mime(head[8:12])
    if head[4:8] in _LEGACY_QUICKTIME:
        return "video/quicktime"
    if _is_mp3_frame(head) or _mp3_frame_after_id3(data, size):
        return "audio/mpeg"
    return None


def _iso_mime(brand: bytes) -> str | None:
    if brand in _HEIC_BRANDS:
        return "image/heic"
    if brand in _HEIF_BRANDS:
        return "image/heif"
    if brand.startswith((b"qt", b"mqt")):
        return "video/quicktime"
    if brand.startswith(b"iso") or brand in _MP4_BRANDS:
        return "video/mp4"
    return None


def _is_mp3_frame(header: bytes) -> bool:
    """An MPEG audio layer III frame header: sync, a defined version, a bitrate, a sample rate."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return False
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate, rate = header[2] >> 4, (header[2] >> 2) & 3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def _mp3_frame_after_id3(data: Buffer, size: int) -> bool:
    """An ID3v2 tag (its length is in its header, however large its cover picture) followed
    directly by a layer III frame."""
    header = bytes(data[:10])
    if len(header) < 10 or not header.startswith(b"ID3") or 0xFF in header[3:5]:
        return False
    if any(byte & 0x80 for byte in header[6:10]):
        return False  # the length is "syncsafe": seven bits a byte
    length = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]
    frame = 10 + length + (10 if header[5] & 0x10 else 0)  # flag 0x10: a footer follows
    return frame + 4 <= size and _is_mp3_frame(bytes(data[frame : frame + 4]))


def describe(path: Path) -> str:
    """libmagic's human description ("PDF document, version 1.7"), for refusal messages."""
    try:
        text = str(magic.from_file(str(path)))
    except magic.MagicException:
        return "unrecognised data"
    return text.split(",")[0].strip() if len(text) > 60 else text


# How far from each end to look for a second format. Browsers sniff the first 512–1,445 bytes;
# metadata segments (EXIF, XMP, comments), where markup is usually smuggled, sit near the start;
# ZIP and RAR readers look from the end.
SCAN_WINDOW: Final = 64 * 1024
# How much of what follows the format's own end is read (appended payloads start there).
TRAILING_WINDOW: Final = 16 * SCAN_WINDOW

# Each pattern starts with a fixed byte ("<", ":") so the regex engine skips ahead with a fast
# byte search; case is ignored without copying the window to lower-case it first.
_MARKUP = re.compile(
    rb"<(?:(?:script|iframe|object|embed)\b|(?:html|body|svg)[\s>/]|\?php\s|!doctype\s+html)",
    re.IGNORECASE,
)
_SCRIPT_URL = re.compile(rb":(?<=javascript:)", re.IGNORECASE)
# Signatures that extraction tools find anywhere in a file (self-extracting archives).
_ANYWHERE: Final = ((b"Rar!\x1a\x07", "RAR archive"), (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"))
_EOCD = b"PK\x05\x06"
_EOCD_LENGTH = 22  # the end-of-central-directory record without its comment


def scan_foreign(data: Buffer, size: int, *, trailing_from: int | None) -> list[str]:
    """Names of foreign formats found where a second reader would find them.

    `data` is the whole file (an mmap is fine: the windows are searched in place, never
    copied). A hit means the file is a polyglot: the same bytes open as our media type *and* as
    an archive, a document or markup that a browser or an interpreter would act on. Each pattern
    is long or anchored enough that a chance match in compressed media data is below about one
    file in 100,000.
    """
    windows = _windows(size, trailing_from)
    found: list[str] = []
    if _zip_ends_at_eof(data, size):
        found.append("ZIP archive")
    if data.find(b"%PDF-", 0, min(size, 1024)) >= 0:
        found.append("PDF document")
    for signature, name in _ANYWHERE:
        if any(data.find(signature, start, end) >= 0 for start, end in windows):
            found.append(name)
    if any(
        _MARKUP.search(data, start, end) or _SCRIPT_URL.search(data, start, end)
        for start, end in windows
    ):
        found.append("web page or script")
    return found


def _windows(size: int, trailing_from: int | None) -> list[tuple[int, int]]:
    """The head, the tail and what follows the format's end, overlapping ones merged so that no
    byte is searched twice (a file under 128 KB is searched once, whole)."""
    spans = [(0, min(size, SCAN_WINDOW)), (max(0, size - SCAN_WINDOW - _EOCD_LENGTH), size)]
    if trailing_from is not None and trailing_from < size:
        spans.append((trailing_from, min(size, trailing_from + TRAILING_WINDOW)))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _zip_ends_at_eof(data: Buffer, size: int) -> bool:
    """A ZIP reader starts from the end-of-central-directory record, which must end the file
    (after a comment of at most 65,535 bytes)."""
    floor = max(0, size - _EOCD_LENGTH - 0xFFFF)
    at = data.rfind(_EOCD, floor, size)
    while at >= 0:
        if at + _EOCD_LENGTH <= size:
            (comment,) = struct.unpack_from("<H", data, at + 20)
            if at + _EOCD_LENGTH + comment == size:
                return True
        at = data.rfind(_EOCD, floor, at)
    return False

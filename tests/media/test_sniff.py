"""The signature sniff decides as libmagic does for every allowed format, without its cost."""

from __future__ import annotations

import struct
from pathlib import Path

import magic
import pytest

from assets.media.sniff import FORMATS, sniff_mime

from .conftest import Media


def sniffed(path: Path) -> str | None:
    data = path.read_bytes()
    return sniff_mime(data, len(data))


def ftyp(brand: bytes) -> bytes:
    """The start of an ISO base media file whose major brand is `brand`."""
    body = brand + b"\0\0\0\0" + brand
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + struct.pack(">I", 16) + b"mdat"


FILES = {
    "jpeg": lambda m: m.image((64, 48), "JPEG"),
    "png": lambda m: m.image((64, 48), "PNG"),
    "gif": lambda m: m.image((64, 48), "GIF"),
    "webp": lambda m: m.image((64, 48), "WEBP"),
    "heic": lambda m: m.image((64, 48), "HEIF"),
    "mp4": lambda m: m.video((64, 64), seconds=1),
    "mov": lambda m: m.video((64, 64), seconds=1, container="mov"),
    "wav": lambda m: m.wav(1.0),
    "mp3 with ID3": lambda m: m.mp3(1.0),
    "mp3 without ID3": lambda m: m.mp3(1.0, xing=False),
}


@pytest.mark.parametrize("kind", FILES)
def test_real_files_get_libmagics_type(media: Media, kind: str) -> None:
    path = FILES[kind](media)
    assert sniffed(path) == magic.from_file(str(path), mime=True)
    assert sniffed(path) in FORMATS


# Major brands libmagic 5.44 maps to an allowed type, and a sample of those it maps elsewhere.
ALLOWED_BRANDS = [
    b"isom", b"iso2", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"mmp4", b"mobi",
    b"F4V ", b"NDSC", b"NDXH", b"niko", b"qt  ", b"mqt ", b"heic", b"heix", b"mif1", b"heim",
    b"heis", b"avic",
]  # fmt: skip
REFUSED_BRANDS = [
    b"M4V ", b"M4A ", b"M4VH", b"3gp4", b"3g2a", b"avif", b"msf1", b"hevc", b"crx ", b"jp2 ",
    b"mjp2", b"MSNV", b"NDAS", b"CAEP", b"XAVC", b"f4v ",
]  # fmt: skip
# DRM-protected brands libmagic also calls video/mp4; nothing can decode them without the key.
PROTECTED_BRANDS = [b"M4P ", b"F4P "]


@pytest.mark.parametrize("brand", ALLOWED_BRANDS + REFUSED_BRANDS, ids=repr)
def test_iso_brands_are_decided_as_libmagic_decides(brand: bytes) -> None:
    data = ftyp(brand)
    assert sniff_mime(data, len(data)) == _allowed(magic.from_buffer(data, mime=True))


@pytest.mark.parametrize("brand", PROTECTED_BRANDS, ids=repr)
def test_protected_brands_are_refused(brand: bytes) -> None:
    data = ftyp(brand)
    assert magic.from_buffer(data, mime=True) == "video/mp4"
    assert sniff_mime(data, len(data)) is None


def _allowed(mime: str) -> str | None:
    return mime if mime in FORMATS else None


@pytest.mark.parametrize(
    ("header", "mime"),
    [
        (b"\xff\xfb\x90\x64", "audio/mpeg"),  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
        (b"\xff\xf3\x90\x64", "audio/mpeg"),  # MPEG-2 layer III
        (b"\xff\xe3\x90\x64", "audio/mpeg"),  # MPEG-2.5 layer III
        (b"\xff\xfd\x90\x64", None),  # layer II: libmagic says audio/mpeg, but it isn't MP3
        (b"\xff\xf1\x50\x80", None),  # AAC in ADTS
        (b"\xff\xfb\xf0\x64", None),  # bitrate index 15 is not allowed
        (b"\xff\xfb\x00\x64", None),  # "free format": no bitrate to find the next frame by
    ],
)
def test_mpeg_audio_headers(header: bytes, mime: str | None) -> None:
    data = header + bytes(400)
    assert sniff_mime(data, len(data)) == mime


def test_an_id3_tag_is_skipped_by_its_length_however_long(media: Media) -> None:
    frames = media.mp3(1.0, xing=False).read_bytes()
    cover = bytes(2_000_000)
    length = len(cover)
    syncsafe = bytes((length >> shift) & 0x7F for shift in (21, 14, 7, 0))
    tagged = b"ID3\x04\x00\x00" + syncsafe + cover + frames
    assert sniff_mime(tagged, len(tagged)) == "audio/mpeg"
    # libmagic, given the first 64 KB as intake used to, saw no sound there.
    assert magic.from_buffer(tagged[: 64 * 1024], mime=True) != "audio/mpeg"
    assert sniff_mime(tagged[: -len(frames)], length + 10) is None  # a tag and nothing after it


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7\n1 0 obj<<>>endobj\n",
        b"<!doctype html><html><script>alert(1)</script>",
        b"PK\x03\x04" + bytes(60),
        b"just some words\n" * 8,
        b"RIFF\x24\x00\x00\x00AVI LIST",
        b"\x89PNG\r\n\x1a\n" + bytes(8),  # a signature without its header chunk
        b"",
    ],
)
def test_other_content_is_not_an_allowed_format(content: bytes) -> None:
    assert sniff_mime(content, len(content)) is None

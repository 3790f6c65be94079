from __future__ import annotations

import dataclasses
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from assets.media import Inspection, MediaLimits, ProblemCode, inspect, probe

from .conftest import Media, exif_bytes


def run(path: Path, limits: MediaLimits, name: str | None = None) -> Inspection:
    return inspect(path, original_name=name or path.name, limits=limits)


def codes(result: Inspection) -> set[ProblemCode]:
    return {p.code for p in result.problems}


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
        ("HEIF", "image/heic"),
    ],
)
def test_it_accepts_every_contract_format(
    media: Media, limits: MediaLimits, fmt: str, mime: str
) -> None:
    result = run(media.image((640, 480), fmt), limits)
    assert result.ok, result.problems
    assert result.problems == ()
    assert result.facts is not None
    assert (result.facts.mime, result.facts.width, result.facts.height) == (mime, 640, 480)


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((300, 300), True),
        ((299, 300), False),
        ((300, 299), False),
        ((6000, 2400), True),
        ((6001, 2401), False),
        ((400, 1000), True),  # W/H = 0.4 exactly
        ((400, 1001), False),
        ((1000, 400), True),  # 2.5 exactly
        ((1001, 400), False),
    ],
)
def test_it_applies_geometry_limits_inclusively(
    media: Media, limits: MediaLimits, size: tuple[int, int], ok: bool
) -> None:
    result = run(media.image(size, "PNG"), limits)
    assert result.ok is ok, result.problems


def test_it_says_what_is_wrong_with_the_numbers(media: Media, limits: MediaLimits) -> None:
    result = run(media.image((250, 400), "JPEG"), limits)
    assert [p.message for p in result.errors] == [
        "Image is 250×400 px; each side must be at least 300 px."
    ]
    wide = run(media.image((1001, 400), "PNG"), limits)
    assert [p.message for p in wide.errors] == [
        "Image is 1001×400 px (width ÷ height = 2.50); the ratio must be between 0.4 and 2.5."
    ]


def test_the_byte_limit_is_inclusive(media: Media) -> None:
    path = media.image((640, 480), "PNG")
    size = path.stat().st_size
    at_limit = MediaLimits(image_max_bytes=size)
    assert run(path, at_limit).ok
    over = run(path, MediaLimits(image_max_bytes=size - 1))
    assert codes(over) == {ProblemCode.FILE_TOO_LARGE}


def test_exif_rotation_gives_display_dimensions(media: Media, limits: MediaLimits) -> None:
    path = media.image((400, 250), "JPEG", exif=exif_bytes(orientation=6))
    facts = probe(path)
    assert (facts.width, facts.height, facts.rotation) == (250, 400, 90)
    assert (facts.stored_width, facts.stored_height) == (400, 250)
    assert run(path, limits).errors[0].message.startswith("Image is 250×400 px;")


def test_heic_rotation_is_reported_upright(media: Media) -> None:
    facts = probe(media.image((640, 480), "HEIF", exif=exif_bytes(orientation=8)))
    assert (facts.width, facts.height, facts.rotation) == (480, 640, 270)


def test_an_empty_file_is_refused(media: Media, limits: MediaLimits) -> None:
    result = run(media.write("empty.jpg", b""), limits)
    assert result.facts is None
    assert [p.message for p in result.problems] == ["The file is empty (0 bytes)."]


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", b"hello, world\n" * 20],
)
def test_an_unknown_type_is_refused(media: Media, limits: MediaLimits, content: bytes) -> None:
    result = run(media.write("upload.jpg", content), limits)
    assert codes(result) == {ProblemCode.UNKNOWN_TYPE}
    assert "it looks like:" in result.problems[0].message


def test_a_misleading_extension_is_a_warning_and_content_wins(
    media: Media, limits: MediaLimits
) -> None:
    result = run(media.image((640, 480), "PNG"), limits, name="holiday.JPG")
    assert result.ok
    assert result.facts is not None and result.facts.format == "PNG"
    assert [(p.code, p.severity) for p in result.problems] == [
        (ProblemCode.EXTENSION_MISMATCH, "warning")
    ]
    assert "“holiday.JPG” but is really a PNG image" in result.problems[0].message


def test_a_jpeg_with_a_zip_appended_is_a_polyglot(media: Media, limits: MediaLimits) -> None:
    source = media.image((640, 480), "JPEG")
    path = media.variant(source, "polyglot.jpg", lambda b: b + media.zip_bytes())
    result = run(path, limits)
    assert ProblemCode.POLYGLOT in {p.code for p in result.errors}
    assert "hidden ZIP archive" in result.errors[0].message
    assert result.facts is not None and result.facts.trailing_bytes > 0


def test_markup_in_a_jpeg_comment_is_a_polyglot(media: Media, limits: MediaLimits) -> None:
    path = media.image((640, 480), "JPEG", comment=b"<script>alert(document.cookie)</script>")
    result = run(path, limits)
    assert codes(result) == {ProblemCode.POLYGLOT}
    assert "hidden web page or script" in result.problems[0].message


def test_markup_appended_to_a_png_is_a_polyglot(media: Media, limits: MediaLimits) -> None:
    source = media.image((640, 480), "PNG")
    path = media.variant(source, "php.png", lambda b: b + b"<?php system($_GET['c']); ?>")
    assert codes(run(path, limits)) == {ProblemCode.POLYGLOT, ProblemCode.TRAILING_DATA}


def test_harmless_trailing_bytes_are_only_a_warning(media: Media, limits: MediaLimits) -> None:
    source = media.image((640, 480), "GIF")
    result = run(media.variant(source, "padded.gif", lambda b: b + b"\0" * 100), limits)
    assert result.ok
    assert [p.message for p in result.warnings] == [
        "The GIF image has 100 bytes of extra data after its end."
    ]


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("w", "h"), [(20_000, 20_000), (10_000, 8_000)])
def test_a_decompression_bomb_is_refused_without_decoding(
    media: Media, limits: MediaLimits, w: int, h: int
) -> None:
    # 400 MP trips Pillow's own hard limit; 80 MP sits between our limit (72 MP) and Pillow's,
    # where Pillow would only warn.
    result = run(media.write(f"bomb{w}.png", _png_claiming(w, h)), limits)
    assert ProblemCode.DECOMPRESSION_BOMB in codes(result)
    assert not result.ok
    if result.facts is not None:
        assert result.facts.decoded is False


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_images_are_refused_unless_allowed(media: Media, fmt: str) -> None:
    path = media.image((640, 480), fmt, frames=3)
    result = run(path, MediaLimits())
    assert [p.message for p in result.errors] == [
        f"The {'WebP' if fmt == 'WEBP' else fmt} image has 3 frames; only a single still "
        "picture is accepted."
    ]
    assert run(path, MediaLimits(allow_animated_images=True)).ok


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "HEIF"])
def test_a_truncated_image_is_refused(media: Media, limits: MediaLimits, fmt: str) -> None:
    source = media.image((640, 480), fmt)
    cut = media.variant(source, f"cut.{fmt.lower()}", lambda b: b[: len(b) * 2 // 3])
    result = run(cut, limits)
    assert result.facts is None
    assert codes(result) <= {ProblemCode.TRUNCATED, ProblemCode.CORRUPT}, result.problems
    assert not result.ok


def test_a_format_switched_off_by_configuration_is_refused(media: Media) -> None:
    no_gif = dataclasses.replace(MediaLimits(), image_formats=frozenset({"JPEG", "PNG"}))
    result = run(media.image((640, 480), "GIF"), no_gif)
    assert [p.message for p in result.errors] == [
        "GIF images are not accepted; accepted formats: JPEG, PNG."
    ]


def test_facts_serialise_to_json(media: Media, limits: MediaLimits) -> None:
    import json

    result = run(media.image((640, 480), "JPEG"), limits, name="x.txt")
    text = json.dumps(result.as_dict())
    assert '"format": "JPEG"' in text
    assert '"code": "extension_mismatch"' in text


def test_secondary_pictures_after_a_jpeg_are_part_of_the_photo(
    media: Media, limits: MediaLimits
) -> None:
    # Phones append gain maps and depth maps as further JPEGs (multi-picture format).
    primary = media.image((640, 480), "JPEG")
    secondary = media.image((320, 240), "JPEG").read_bytes()
    path = media.variant(primary, "gainmap.jpg", lambda b: b + secondary)
    result = run(path, limits)
    assert result.problems == ()
    assert result.facts is not None and result.facts.trailing_bytes == 0


def flat_gray_jpeg(precision: int, size: int = 320) -> bytes:
    """A genuine extended-sequential JPEG of mid-grey at `precision` bits a sample, written by
    hand (no encoder here writes 12-bit JPEGs): every 8×8 block's coefficients are zero, so each
    block is two one-bit Huffman codes (DC difference 0, end of block)."""

    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    one_code = bytes([1] + [0] * 15) + b"\0"  # one code of length 1, for symbol 0
    bits = (size // 8) ** 2 * 2
    scan = bytes(bits // 8) + (bytes([0xFF >> (bits % 8)]) if bits % 8 else b"")
    return (
        b"\xff\xd8"
        + segment(0xDB, b"\0" + bytes([1] * 64))
        + segment(0xC1, struct.pack(">BHHB", precision, size, size, 1) + bytes([1, 0x11, 0]))
        + segment(0xC4, b"\x00" + one_code + b"\x10" + one_code)
        + segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
        + scan
        + b"\xff\xd9"
    )


def test_a_12_bit_jpeg_is_named_as_such(media: Media, limits: MediaLimits) -> None:
    eight = run(media.write("gray8.jpg", flat_gray_jpeg(8)), limits)
    assert eight.ok and eight.facts is not None and eight.facts.decoded  # the writer is real
    result = run(media.write("gray12.jpg", flat_gray_jpeg(12)), limits)
    assert [(p.code, p.message) for p in result.problems] == [
        (
            ProblemCode.FORMAT_NOT_ALLOWED,
            "This is a 12-bit JPEG, which is not supported; save it as an 8-bit JPEG.",
        )
    ]


@pytest.mark.skipif(not shutil.which("ffprobe"), reason="ffprobe is not installed")
def test_the_hand_written_12_bit_jpeg_is_one_for_ffmpeg_too(media: Media) -> None:
    path = media.write("gray12-ffprobe.jpg", flat_gray_jpeg(12))
    done = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-show_entries", "stream=bits_per_raw_sample"),
            *("-of", "csv=p=0", str(path)),
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    assert done.stdout.strip() == "12"

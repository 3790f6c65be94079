"""The cost of checking a file is bounded whatever its structure: floods of boxes, chunks,
segments and blocks, and tables longer than the media they index, are refused as malformed
before any library walks them; a picture too big to decode in the web worker is left to the
worker (assets.media.pixels). The full-size versions of these files, timed and measured, are in
benchmarks/media_validation.py.
"""

from __future__ import annotations

import struct
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from assets.media import (
    MediaLimits,
    MetadataError,
    ProblemCode,
    bounds,
    inspect,
    strip_location_metadata,
)

from . import hostile
from .conftest import Media
from .isobmff import box, children, rebuild

# Generous for a shared two-core machine: each of these is refused in a few milliseconds.
SECONDS = 1.5


def refused(path: Path, *things: str) -> str:
    """Inspect `path`, which must be refused as malformed, quickly, without FFmpeg or a Pillow
    plugin being asked to open it; returns the message."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a library was asked to read a file the caps should refuse")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(av, "open", forbidden)
        patch.setattr(Image, "OPEN", {})
        began = time.perf_counter()
        result = inspect(path, original_name=path.name, limits=MediaLimits())
        elapsed = time.perf_counter() - began
    assert result.facts is None, result.problems
    assert [p.code for p in result.problems] == [ProblemCode.CORRUPT], result.problems
    message = result.problems[0].message
    for thing in things:
        assert thing in message
    assert elapsed < SECONDS
    return message


def test_a_flood_of_top_level_boxes_is_refused(media: Media) -> None:
    base = media.video((640, 640), seconds=3, audio=True)
    path = media.write("boxes.mp4", hostile.mp4_box_flood(base.read_bytes(), 10_000))
    refused(path, "malformed", "top-level boxes")
    with pytest.raises(MetadataError):
        strip_location_metadata(path)


def test_a_few_thousand_boxes_are_still_read(media: Media) -> None:
    base = media.video((640, 640), seconds=3)
    path = media.write("some-boxes.mp4", hostile.mp4_box_flood(base.read_bytes(), 1_000))
    assert inspect(path, original_name="a.mp4", limits=MediaLimits()).errors == ()


def test_a_chunk_table_longer_than_the_samples_is_refused(media: Media) -> None:
    base = media.video((640, 640), seconds=3)
    path = media.write("stco.mp4", hostile.mp4_chunk_table(base.read_bytes(), 200_000))
    refused(path, "inconsistent", "200,000 sample chunks for 90 samples")


def _replace_table(mp4: bytes, kind: bytes, payload: bytes) -> bytes:
    """The first track's `kind` table replaced by `payload` (or added, if it has none)."""
    done = {"table": False}

    def edit(kids: list[tuple[bytes, bytes]], path: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
        if path[-1:] != (b"stbl",) or done["table"]:
            return kids
        done["table"] = True
        return [k for k in kids if k[0] != kind] + [(kind, payload)]

    out = b""
    for top, body in children(mp4):
        if top == b"moov":
            body = rebuild(body, edit, (b"moov",))
        out += struct.pack(">I", 8 + len(body)) + top + body
    return out


@pytest.mark.parametrize(
    ("kind", "things"),
    [
        (b"stss", "key frames"),
        (b"ctts", "composition offsets"),
        (b"stts", "times"),
    ],
)
def test_a_table_with_more_entries_than_samples_is_refused(
    media: Media, kind: bytes, things: str
) -> None:
    base = media.video((640, 640), seconds=3).read_bytes()
    count = 5_000
    entry = struct.pack(">II", 0, 1) if kind != b"stss" else struct.pack(">I", 1)
    payload = struct.pack(">II", 0, count) + entry * count
    path = media.write(f"{kind.decode()}-long.mp4", _replace_table(base, kind, payload))
    refused(path, "inconsistent", f"5,000 sample {things} for 90 samples")


def test_an_index_of_a_million_samples_is_refused(media: Media) -> None:
    # One time entry can claim any number of samples; the sizes table must list them all, and
    # its count is read before the table.
    base = media.video((640, 640), seconds=3).read_bytes()
    samples = 1_000_000
    stsz = struct.pack(">III", 0, 0, samples) + bytes(4 * samples)
    stts = struct.pack(">III", 0, 1, samples) + struct.pack(">I", 1)
    path = media.write(
        "million.mp4", _replace_table(_replace_table(base, b"stsz", stsz), b"stts", stts)
    )
    refused(path, "malformed", "1,000,000 samples")


def test_a_moov_of_many_small_boxes_is_refused(media: Media) -> None:
    base = media.video((640, 640), seconds=3).read_bytes()

    def edit(kids: list[tuple[bytes, bytes]], path: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
        return kids + [(b"free", b"")] * 30_000 if path == (b"moov",) else kids

    out = b""
    for top, body in children(base):
        if top == b"moov":
            body = rebuild(body, edit, (b"moov",))
        out += struct.pack(">I", 8 + len(body)) + top + body
    refused(media.write("moov-boxes.mp4", out), "malformed", "boxes in its index")


def test_an_edit_list_of_thousands_of_entries_is_refused(media: Media) -> None:
    from .isobmff import with_edit_lists

    base = media.video((640, 640), seconds=3).read_bytes()
    edits = [(10, 0)] * 1_000
    path = media.write("edits.mp4", with_edit_lists(base, {0: edits}))
    refused(path, "malformed", "1,000 entries in a track's edit list")


def test_fragments_promising_millions_of_samples_are_refused(media: Media) -> None:
    moof = box(
        b"moof",
        box(b"mfhd", bytes(8))
        + box(
            b"traf",
            box(b"tfhd", struct.pack(">II", 0, 1)) + box(b"trun", struct.pack(">II", 0, 5_000_000)),
        ),
    )
    base = media.video((640, 640), seconds=3).read_bytes()
    refused(media.write("trun.mp4", base + moof), "malformed", "samples in its index")


FLOODS: dict[str, tuple[str, Callable[[bytes, int], bytes], int, str]] = {
    "jpeg comments": ("JPEG", hostile.jpeg_comment_flood, 10_000, "markers"),
    "jpeg fill bytes": ("JPEG", hostile.jpeg_fill_flood, 100_000, "markers"),
    "png private chunks": ("PNG", hostile.png_chunk_flood, 5_000, "chunks besides its picture"),
    "png empty data chunks": (
        "PNG",
        lambda png, n: hostile.png_chunk_flood(png, n, b"IDAT"),
        bounds.MAX_PNG_CHUNKS + 1,
        "chunks",
    ),
    "gif comments": ("GIF", hostile.gif_comment_flood, 20_000, "blocks"),
    "webp chunks": ("WEBP", hostile.webp_chunk_flood, 5_000, "chunks"),
}


@pytest.mark.parametrize("name", FLOODS)
def test_an_image_flood_is_refused_before_pillow(media: Media, name: str) -> None:
    fmt, build, count, things = FLOODS[name]
    base = media.image((640, 480), fmt).read_bytes()
    refused(media.write(f"flood-{name}", build(base, count)), "malformed", things)


@pytest.mark.parametrize("after", [False, True])
def test_a_wav_of_empty_chunks_is_refused(media: Media, after: bool) -> None:
    # After the sound too: FFmpeg reads on for tags there (2.8 s for 1.8 million ADPCM chunks).
    base = media.wav(3.0, codec="adpcm_ms").read_bytes()
    path = media.write(f"chunks-{after}.wav", hostile.wav_chunk_flood(base, 5_000, after=after))
    refused(path, "malformed", "chunks")


@pytest.mark.parametrize("in_track", [False, True])
def test_a_movie_of_thousands_of_metadata_items_is_refused(media: Media, in_track: bool) -> None:
    base = media.video((640, 640), seconds=3).read_bytes()
    flood = hostile.mp4_metadata_flood(base, 5_000, in_track=in_track)
    refused(media.write(f"metadata-{in_track}.mp4", flood), "malformed", "metadata entries")


def test_a_dozen_metadata_items_are_fine(media: Media) -> None:
    base = media.video((640, 640), seconds=3).read_bytes()
    path = media.write("some-metadata.mp4", hostile.mp4_metadata_flood(base, 12))
    assert inspect(path, original_name="a.mp4", limits=MediaLimits()).errors == ()


def test_a_wav_of_thousands_of_info_tags_is_refused(media: Media) -> None:
    base = media.wav(3.0, codec="adpcm_ms").read_bytes()
    refused(media.write("info.wav", hostile.wav_info_flood(base, 5_000)), "malformed", "chunks")


def test_a_heic_item_table_of_tens_of_thousands_is_refused(media: Media) -> None:
    base = media.image((640, 480), "HEIF", suffix="heic").read_bytes()
    path = media.write("items.heic", hostile.heic_item_flood(base, 60_000))
    refused(path, "malformed", "items and item pieces")


def test_a_few_comments_and_chunks_are_fine(media: Media) -> None:
    jpeg = media.image((640, 480), "JPEG").read_bytes()
    png = media.image((640, 480), "PNG").read_bytes()
    for name, data in {
        "comments.jpg": hostile.jpeg_comment_flood(jpeg, 100),
        "chunks.png": hostile.png_chunk_flood(png, 100),
    }.items():
        assert inspect(media.write(name, data), original_name=name, limits=MediaLimits()).ok


def test_a_huge_16_bit_png_is_measured_not_decoded_at_intake(media: Media) -> None:
    # 280 KB on disk, 288 MB decoded: the worker decodes it before the upstream call.
    path = media.write("rgba16.png", hostile.png_16bit_rgba(6000, 6000))
    began = time.perf_counter()
    result = inspect(path, original_name="big.png", limits=MediaLimits())
    assert time.perf_counter() - began < SECONDS
    assert result.ok, result.problems
    assert result.facts is not None and (result.facts.width, result.facts.height) == (6000, 6000)
    assert result.facts.decoded is False


def test_a_small_png_is_still_decoded_at_intake(media: Media) -> None:
    facts = inspect(
        media.image((1000, 1000), "PNG"), original_name="a.png", limits=MediaLimits()
    ).facts
    assert facts is not None and facts.decoded is True


def test_a_large_progressive_jpeg_is_left_to_the_worker(media: Media) -> None:
    # libjpeg holds every coefficient of a progressive JPEG, however small the decode.
    big = media.image((3000, 3000), "JPEG", progressive=True)
    small = media.image((1000, 1000), "JPEG", progressive=True)
    baseline = media.image((3000, 3000), "JPEG")
    decoded = {}
    for name, path in {"big": big, "small": small, "baseline": baseline}.items():
        facts = inspect(path, original_name=name, limits=MediaLimits()).facts
        assert facts is not None
        decoded[name] = facts.decoded
    assert decoded == {"big": False, "small": True, "baseline": True}


def test_pillow_warnings_are_not_silenced_with_catch_warnings(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    # catch_warnings() swaps the process's warning filters: threads (gunicorn's) race on it.
    # A 95 MP PNG is where Pillow would warn (above its own limit, below twice that); the test
    # configuration turns that warning (a RuntimeWarning) into an error, and inspect() would
    # then report an unreadable file instead of a decompression bomb.
    from .test_images import _png_claiming

    real, calls = warnings.catch_warnings, []

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    path = media.write("95mp.png", _png_claiming(10_000, 9_500))
    monkeypatch.setattr(warnings, "catch_warnings", spy)
    result = inspect(path, original_name="a.png", limits=MediaLimits())
    monkeypatch.undo()
    assert calls == [], "warnings.catch_warnings() is not thread-safe"
    assert [p.code for p in result.problems] == [ProblemCode.DECOMPRESSION_BOMB]


def test_a_long_video_is_measured_without_walking_every_packet(tmp_path: Path) -> None:
    path = tmp_path / "long.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 320, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "6000"}
        frame = av.VideoFrame.from_image(Image.new("RGB", (320, 320), (90, 140, 60)))
        for i in range(30 * 200):
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    result = inspect(path, original_name="long.mp4", limits=MediaLimits())
    assert result.facts is not None
    assert result.facts.duration_s == pytest.approx(200.0, abs=0.05)  # the index's length
    assert (result.facts.frame_count or 0) < 30 * 61  # the walk stopped after a minute
    assert "Video is 200 s long; the limit is 15 s." in [p.message for p in result.errors]

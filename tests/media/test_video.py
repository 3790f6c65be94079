from __future__ import annotations

import dataclasses
import struct
from fractions import Fraction
from pathlib import Path

import av
import pytest

from assets.media import MediaFacts, MediaLimits, ProblemCode, check, inspect, probe
from assets.media.boxes import top_level_boxes

from .conftest import Media, silence

NARROW = MediaLimits(video_min_pixels=409_600, video_max_pixels=927_408)


def errors(path: Path, limits: MediaLimits) -> list[str]:
    return [p.message for p in inspect(path, original_name=path.name, limits=limits).errors]


def error_codes(path: Path, limits: MediaLimits) -> set[ProblemCode]:
    return {p.code for p in inspect(path, original_name=path.name, limits=limits).errors}


@pytest.mark.parametrize(("container", "fmt"), [("mp4", "MP4"), ("mov", "MOV")])
def test_it_measures_mp4_and_mov(media: Media, limits: MediaLimits, container: str, fmt: str):
    path = media.video((640, 640), fps=30, seconds=2, container=container, audio=True)
    facts = probe(path)
    assert (facts.kind, facts.format, facts.codec) == ("video", fmt, "h264")
    assert (facts.width, facts.height, facts.frame_count) == (640, 640, 60)
    assert facts.fps == 30
    assert facts.duration_s == pytest.approx(2.0, abs=0.05)
    assert facts.has_audio
    assert errors(path, limits) == []


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (48, None),
        (47, "Video is 1.96 s long; it must be at least 2 s."),
        (360, None),
        (361, "Video is 15.04 s long; the limit is 15 s."),
    ],
)
def test_duration_limits_are_inclusive(
    media: Media, limits: MediaLimits, frames: int, message: str | None
) -> None:
    path = media.video((640, 640), fps=24, frames=frames)
    assert errors(path, limits) == ([message] if message else [])


@pytest.mark.parametrize(
    ("rate", "code"),
    [
        (Fraction(24000, 1001), None),  # 23.976: what "24 fps" cameras record
        (24, None),
        (60, None),
        (Fraction(239, 10), ProblemCode.FRAME_RATE_TOO_LOW),
        (61, ProblemCode.FRAME_RATE_TOO_HIGH),
    ],
)
def test_frame_rate_limits_allow_ntsc_rates(
    media: Media, limits: MediaLimits, rate: Fraction | int, code: ProblemCode | None
) -> None:
    path = media.video((640, 640), fps=rate, seconds=2.5)
    assert probe(path).fps == pytest.approx(float(rate), abs=0.001)
    assert error_codes(path, limits) == ({code} if code else set())


def test_it_reports_a_low_frame_rate_in_words(media: Media, limits: MediaLimits) -> None:
    path = media.video((640, 640), fps=15, seconds=2.5)
    assert errors(path, limits) == ["Video runs at 15 frames per second; it must be at least 24."]


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((664, 614), True),  # 407,696 px: the wide range's minimum exactly
        ((662, 614), False),
        ((640, 640), True),
    ],
)
def test_pixel_count_edges(media: Media, limits: MediaLimits, size: tuple[int, int], ok: bool):
    codes = error_codes(media.video(size), limits)
    assert codes == (set() if ok else {ProblemCode.PIXEL_COUNT_TOO_SMALL})


def test_pixel_count_message_names_the_upstream_problem(media: Media, limits: MediaLimits):
    assert errors(media.video((662, 614)), limits) == [
        "Video frames are 662×614 = 406,468 pixels; the minimum is 407,696 "
        "(re-export it at a higher resolution)."
    ]


def test_the_narrow_pixel_range_would_refuse_1080p(limits: MediaLimits) -> None:
    full_hd = MediaFacts(
        kind="video",
        mime="video/mp4",
        format="MP4",
        size_bytes=10_000_000,
        width=1080,
        height=1920,
        duration_s=10.0,
        fps=30.0,
    )
    assert check(full_hd, limits) == []
    assert [p.code for p in check(full_hd, NARROW)] == [ProblemCode.PIXEL_COUNT_TOO_LARGE]
    too_big = dataclasses.replace(full_hd, width=2880, height=2882)  # 8,300,160 px
    assert [p.code for p in check(too_big, limits)] == [ProblemCode.PIXEL_COUNT_TOO_LARGE]


@pytest.mark.parametrize(
    ("size", "code"),
    [
        ((300, 400), None),
        ((298, 400), ProblemCode.SIDE_TOO_SHORT),
        ((400, 1000), None),  # W/H = 0.4 exactly
        ((398, 996), ProblemCode.ASPECT_RATIO),
        ((1000, 480), None),
        ((1002, 480), ProblemCode.SIDE_TOO_LONG),
    ],
)
def test_side_and_aspect_limits_are_inclusive(
    media: Media, size: tuple[int, int], code: ProblemCode | None
) -> None:
    # Pixel-count limits off so that each side and ratio bound is tested on its own; the
    # largest side is lowered to 1000 so that its edge is cheap to encode.
    loose = MediaLimits(video_min_pixels=0, video_max_side_px=1000)
    assert error_codes(media.video(size, seconds=2), loose) == ({code} if code else set())


def test_the_byte_limit_is_inclusive(media: Media) -> None:
    path = media.video((640, 640))
    size = path.stat().st_size
    assert errors(path, MediaLimits(video_max_bytes=size)) == []
    assert error_codes(path, MediaLimits(video_max_bytes=size - 1)) == {ProblemCode.FILE_TOO_LARGE}


def test_rotation_swaps_display_dimensions(media: Media) -> None:
    facts = probe(media.video((640, 480), rotation=90))
    assert (facts.stored_width, facts.stored_height) == (640, 480)
    assert (facts.width, facts.height) == (480, 640)
    # Tools disagree on the sign; only the axis matters for the limits.
    assert abs(facts.rotation) % 180 == 90
    assert errors(media.video((640, 480), rotation=90), MediaLimits())[0].startswith(
        "Video frames are 480×640"
    )


def test_the_header_duration_is_not_trusted(media: Media, limits: MediaLimits) -> None:
    source = media.video((640, 640), seconds=2)

    def claim_100_s(data: bytes) -> bytes:
        at = data.index(b"mvhd") + 4  # version 0: flags, times, timescale, duration
        (timescale,) = struct.unpack_from(">I", data, at + 12)
        return data[: at + 16] + struct.pack(">I", 100 * timescale) + data[at + 20 :]

    facts = probe(media.variant(source, "claims100.mp4", claim_100_s))
    assert facts.declared_duration_s == 100
    assert facts.duration_s == pytest.approx(2.0, abs=0.05)


def _moov(data: bytes, path: Path) -> tuple[int, int]:
    with path.open("rb") as f:
        moov = next(b for b in top_level_boxes(f, len(data), "video") if b.type == b"moov")
    return moov.start, moov.size


def test_a_video_cut_in_half_is_refused(media: Media, limits: MediaLimits) -> None:
    source = media.video((640, 640), seconds=3)
    cut = media.variant(source, "half.mp4", lambda b: b[: len(b) // 2])
    result = inspect(cut, original_name="clip.mp4", limits=limits)
    assert result.facts is None
    assert [p.code for p in result.problems] == [ProblemCode.TRUNCATED]
    assert "damaged or cut short" in result.problems[0].message


def test_a_moov_pointing_past_the_end_is_refused(media: Media, limits: MediaLimits) -> None:
    source = media.video((640, 640), seconds=2)
    data = source.read_bytes()
    start, size = _moov(data, source)
    patched = data[:start] + struct.pack(">I", size + 4096) + data[start + 4 :]
    path = media.write("moov-past-eof.mp4", patched)
    assert errors(path, limits) == [
        f"The video file is damaged or cut short: the 'moov' box at byte {start:,} claims "
        f"{size + 4096:,} bytes but only {size:,} remain."
    ]


def test_a_video_without_its_index_is_refused(media: Media, limits: MediaLimits) -> None:
    source = media.video((640, 640), seconds=2)
    data = source.read_bytes()
    start, _ = _moov(data, source)
    path = media.write("no-moov.mp4", data[:start])
    assert error_codes(path, limits) <= {ProblemCode.TRUNCATED, ProblemCode.UNKNOWN_TYPE}
    assert error_codes(path, limits)


def test_an_index_pointing_outside_the_media_data_is_refused(
    media: Media, limits: MediaLimits
) -> None:
    source = media.video((640, 640), seconds=2)
    data = bytearray(source.read_bytes())
    at = data.index(b"stco") + 12  # first chunk offset
    struct.pack_into(">I", data, at, len(data) - 4)
    path = media.write("bad-stco.mp4", bytes(data))
    assert error_codes(path, limits) == {ProblemCode.TRUNCATED}
    assert "not in the file" in errors(path, limits)[0]


def test_sound_only_mp4_is_refused_as_a_video(media: Media, limits: MediaLimits) -> None:
    path = media.root / "sound-only.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100, layout="mono")
        assert isinstance(stream, av.AudioStream)
        out.mux(stream.encode(silence(44100 * 3, 44100)))
        out.mux(stream.encode())
    assert error_codes(path, limits) == {ProblemCode.NO_VIDEO_TRACK}


def test_a_fragmented_mp4_is_measured_from_its_fragments(media: Media, limits: MediaLimits):
    # What browsers' MediaRecorder and some cameras write: an empty index plus moof fragments.
    from PIL import Image

    path = media.root / "fragmented.mp4"
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 640, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "30"}
        frame = av.VideoFrame.from_image(Image.new("RGB", (640, 640), (9, 80, 9)))
        for i in range(90):
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    facts = probe(path)
    assert (facts.duration_s, facts.fps, facts.declared_duration_s) == (3.0, 30.0, 0.0)
    assert errors(path, limits) == []


def test_an_index_ending_in_a_cut_off_box_header_says_so(media: Media, limits: MediaLimits) -> None:
    # The last box inside the index announces a 64-bit size it has no room for.
    from .isobmff import box, children

    source = media.video((640, 640), seconds=2)
    out = b""
    for kind, payload in children(source.read_bytes()):
        if kind == b"moov":
            payload += struct.pack(">I4s", 1, b"free")
        out += box(kind, payload)
    result = inspect(media.write("cut-header.mp4", out), original_name="a.mp4", limits=limits)
    assert [p.code for p in result.problems] == [ProblemCode.TRUNCATED]
    assert "a box header at index offset" in result.problems[0].message

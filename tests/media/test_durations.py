"""Video durations are the container's presentation, as ffprobe reports it: AAC priming that an
edit list skips doesn't count, edit lists (several entries, empty ones) are honoured.

Files come from PyAV, the ffmpeg command line (skipped where it isn't installed) and edit lists
written by hand (tests/media/isobmff.py), with the movie and track durations a real writer would
record. The ffprobe comparison runs when ffprobe is installed (CI installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from assets.media import MediaLimits, ProblemCode, inspect, probe

from .conftest import Media
from .isobmff import consistent_durations, track_timescales, with_edit_lists

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="the ffmpeg command line is not installed")


def ffprobe_seconds(path: Path) -> float:
    done = subprocess.run(
        [FFPROBE or "ffprobe", "-v", "error", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return float(json.loads(done.stdout)["format"]["duration"])


def ffmpeg(out: Path, *args: str) -> Path:
    if not out.exists():
        subprocess.run(
            [FFMPEG or "ffmpeg", "-v", "error", "-y", *args, str(out)], check=True, timeout=120
        )
    return out


def _lavfi(seconds: float, *, rate: str = "30", sample_rate: int = 48000) -> list[str]:
    return [
        *("-f", "lavfi", "-i", f"testsrc=size=640x640:rate={rate}"),
        *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={sample_rate}"),
        *("-t", str(seconds)),
    ]


def _with_audio(media: Media, seconds: float) -> Path:
    """PyAV: H.264 at 30 fps and AAC (1,024 samples of priming, skipped by an edit list)."""
    return media.video((640, 640), fps=30, frames=round(30 * seconds), audio=True)


def _apple_priming(media: Media, source: Path) -> Path:
    """The audio track's edit list rewritten as Apple's encoders write it: the first 2,112
    samples are priming."""
    data = source.read_bytes()
    movie, scales = track_timescales(data)
    rate = scales[1]
    facts = probe(source)
    presented = round(((facts.duration_s or 0) * rate + 1024 - 2112) / rate * movie)
    return media.write(f"apple-{source.stem}.mp4", with_edit_lists(data, {1: [(presented, 2112)]}))


def _two_edits(media: Media, source: Path) -> Path:
    """Seconds 0–5 and 10–15 of both tracks, back to back: ten seconds presented."""
    data = source.read_bytes()
    movie, (video, audio) = track_timescales(data)
    edits = {
        0: [(5 * movie, 0), (5 * movie, 10 * video)],
        1: [(5 * movie, 1024), (5 * movie, 10 * audio + 1024)],
    }
    return media.write(f"two-edits-{source.stem}.mp4", with_edit_lists(data, edits))


def _late_video(media: Media, source: Path) -> Path:
    """An empty edit: the picture starts half a second after the sound."""
    data = source.read_bytes()
    movie, _ = track_timescales(data)
    facts = probe(source)
    edits = {0: [(movie // 2, -1), (round((facts.duration_s or 0) * movie), 0)]}
    return media.write(f"late-video-{source.stem}.mp4", with_edit_lists(data, edits))


def _no_edit_lists(media: Media, source: Path) -> Path:
    """A writer that records no edit list: the priming samples are presented."""
    data = source.read_bytes()
    return media.write(f"no-edits-{source.stem}.mp4", with_edit_lists(data, {0: None, 1: None}))


def test_aac_priming_does_not_lengthen_a_fifteen_second_video(media: Media) -> None:
    path = _with_audio(media, 15.0)
    facts = probe(path)
    assert facts.has_audio
    assert facts.duration_s == pytest.approx(15.0, abs=0.001)
    assert inspect(path, original_name="clip.mp4", limits=MediaLimits()).errors == ()


def test_a_video_just_under_two_seconds_with_sound_is_too_short(media: Media) -> None:
    path = media.video((640, 640), fps=50, frames=99, audio=True)  # 1.98 s
    result = inspect(path, original_name="clip.mp4", limits=MediaLimits())
    assert result.facts is not None and result.facts.duration_s == pytest.approx(1.98, abs=0.001)
    assert [(p.code, p.message) for p in result.errors] == [
        (ProblemCode.TOO_SHORT, "Video is 1.98 s long; it must be at least 2 s.")
    ]


def test_apple_priming_in_an_edit_list_is_skipped(media: Media) -> None:
    path = _apple_priming(media, _with_audio(media, 15.0))
    assert probe(path).duration_s == pytest.approx(15.0, abs=0.001)


def test_several_edits_present_their_sum(media: Media) -> None:
    path = _two_edits(media, _with_audio(media, 15.0))
    assert probe(path).duration_s == pytest.approx(10.0, abs=0.001)


def test_an_empty_edit_counts_as_time(media: Media) -> None:
    path = _late_video(media, _with_audio(media, 15.0))
    facts = probe(path)
    assert facts.duration_s == pytest.approx(15.5, abs=0.001)
    assert {p.code for p in inspect(path, original_name="a.mp4", limits=MediaLimits()).errors} == {
        ProblemCode.TOO_LONG
    }


def test_without_edit_lists_the_priming_is_presented(media: Media) -> None:
    path = _no_edit_lists(media, _with_audio(media, 15.0))
    assert probe(path).duration_s == pytest.approx(15.0 + 1024 / 44100, abs=0.001)


Build = Callable[[Media, Path], Path]


def _cli_files(media: Media) -> dict[str, Path]:
    raw = media.root / "cli"
    raw.mkdir(exist_ok=True)
    x264 = ("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
    return {
        "mp4 with AAC": ffmpeg(raw / "aac.mp4", *_lavfi(15.0), *x264),
        # B-frames: the video track gets an edit list of its own, as Android's muxer writes.
        "b-frames": ffmpeg(
            raw / "bframes.mp4", *_lavfi(6.0), "-c:v", "libx264", "-bf", "2", "-c:a", "aac"
        ),
        "mov faststart": ffmpeg(
            raw / "fast.mov", *_lavfi(5.0, sample_rate=44100), *x264, "-movflags", "+faststart"
        ),
        "mov 29.97": ffmpeg(raw / "ntsc.mov", *_lavfi(5.0, rate="30000/1001"), *x264),
        "fragmented": ffmpeg(
            raw / "frag.mp4", *_lavfi(5.0), *x264, "-movflags", "+frag_keyframe+empty_moov"
        ),
        "no edit lists": ffmpeg(raw / "noedit.mp4", *_lavfi(5.0), *x264, "-use_editlist", "0"),
        "late sound": ffmpeg(
            raw / "late.mp4",
            *("-f", "lavfi", "-t", "5", "-i", "testsrc=size=640x640:rate=30"),
            *("-itsoffset", "0.5", "-f", "lavfi", "-t", "5", "-i", "sine=sample_rate=48000"),
            *x264,
        ),
    }


@needs_ffmpeg
@pytest.mark.skipif(FFPROBE is None, reason="ffprobe is not installed")
def test_durations_match_ffprobe_within_a_millisecond(media: Media) -> None:
    source = _with_audio(media, 15.0)
    files = {
        "pyav with AAC": source,
        "pyav 1.98 s": media.video((640, 640), fps=50, frames=99, audio=True),
        "apple priming": _apple_priming(media, source),
        "two edits": _two_edits(media, source),
        "empty edit": _late_video(media, source),
        "no edits": _no_edit_lists(media, source),
        **_cli_files(media),
    }
    files["apple priming, ffmpeg"] = _apple_priming(media, files["mp4 with AAC"])
    files["two edits, ffmpeg"] = _two_edits(media, files["mp4 with AAC"])
    off = {
        name: round((probe(path).duration_s or 0) - ffprobe_seconds(path), 4)
        for name, path in files.items()
    }
    assert {name: diff for name, diff in off.items() if abs(diff) > 0.001} == {}


@needs_ffmpeg
def test_consistent_durations_change_nothing_in_a_consistent_file(media: Media) -> None:
    # The helper the tests above rely on: on an ffmpeg file, the durations it writes are the
    # ones ffmpeg wrote (to the movie's time unit).
    path = _cli_files(media)["mp4 with AAC"]
    assert probe(media.write("same.mp4", consistent_durations(path.read_bytes()))).duration_s == (
        probe(path).duration_s
    )


@needs_ffmpeg
def test_an_iphone_like_mov_is_measured_and_decoded(media: Media) -> None:
    # What an iPhone records: HEVC tagged hvc1 in a QuickTime file, turned by the display
    # matrix, with AAC whose edit list skips Apple's 2,112 samples of priming.
    from assets.media.pixels import decoded_picture

    raw = media.root / "cli"
    raw.mkdir(exist_ok=True)
    source = ffmpeg(
        raw / "iphone.mov",
        *_lavfi(5.0, sample_rate=44100),
        *(
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "log-level=none",
        ),
        *("-c:a", "aac", "-metadata:s:v:0", "rotate=90"),
    )
    data = source.read_bytes()
    movie, scales = track_timescales(data)
    presented = round((5.0 * scales[1] + 1024 - 2112) / scales[1] * movie)
    path = media.write("iphone-priming.mov", with_edit_lists(data, {1: [(presented, 2112)]}))
    facts = probe(path)
    assert (facts.format, facts.codec) == ("MOV", "hevc")
    assert facts.duration_s == pytest.approx(5.0, abs=0.001)
    if FFPROBE:
        assert facts.duration_s == pytest.approx(ffprobe_seconds(path), abs=0.001)
    assert decoded_picture(path, facts, 800).size[0] <= 800

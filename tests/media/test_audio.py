from __future__ import annotations

import struct
from pathlib import Path

import pytest

from assets.media import MediaLimits, ProblemCode, inspect, probe

from .conftest import Media


def messages(path: Path, limits: MediaLimits) -> list[str]:
    return [p.message for p in inspect(path, original_name=path.name, limits=limits).problems]


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (2.0, None),
        (1.99, "Sound file is 1.99 s long; it must be at least 2 s."),
        (15.0, None),
        (15.01, "Sound file is 15.01 s long; the limit is 15 s."),
    ],
)
def test_wav_duration_limits_are_inclusive(
    media: Media, limits: MediaLimits, seconds: float, message: str | None
) -> None:
    path = media.wav(seconds)
    assert probe(path).duration_s == pytest.approx(seconds, abs=1e-4)
    assert messages(path, limits) == ([message] if message else [])


@pytest.mark.parametrize("codec", ["pcm_s24le", "pcm_f32le", "pcm_u8"])
def test_it_reads_wav_sample_formats_the_stdlib_cannot(media: Media, codec: str) -> None:
    facts = probe(media.wav(3.0, codec=codec))
    assert (facts.format, facts.mime) == ("WAV", "audio/x-wav")
    assert facts.duration_s == pytest.approx(3.0, abs=1e-3)


def test_a_truncated_wav_is_refused_with_both_lengths(media: Media, limits: MediaLimits):
    source = media.wav(8.0)  # 8000 Hz, 16-bit mono: 16,000 bytes a second
    cut = media.variant(source, "cut.wav", lambda b: b[: 44 + 2 * 16_000])
    assert messages(cut, limits) == [
        "The WAV file is cut short: its header announces 8.0 s of sound but only 2.0 s is present."
    ]


def test_mp3_duration_comes_from_the_frames(media: Media, limits: MediaLimits) -> None:
    facts = probe(media.mp3(5.0))
    assert (facts.format, facts.mime, facts.codec) == ("MP3", "audio/mpeg", "mp3")
    # Whole frames, plus the encoder's priming and padding (< 0.1 s).
    assert 5.0 <= (facts.duration_s or 0) < 5.1
    assert messages(media.mp3(5.0), limits) == []


def test_a_vbr_mp3_without_xing_header_does_not_fool_the_duration(
    media: Media, limits: MediaLimits
) -> None:
    # A 320 kbit/s start followed by 32 kbit/s and no Xing/VBRI table: header-based tools
    # estimate the length from the first frame's bitrate and see ~3 s instead of ~12 s.
    loud = media.mp3(2.0, bitrate=320_000, xing=False).read_bytes()
    quiet = media.mp3(10.0, bitrate=32_000, xing=False).read_bytes()
    path = media.write("vbr-no-xing.mp3", loud + quiet)
    facts = probe(path)
    assert facts.declared_duration_s is not None and facts.declared_duration_s < 4
    assert facts.duration_s == pytest.approx(12.0, abs=0.2)
    assert messages(path, limits) == []
    assert [
        p.code
        for p in inspect(
            path, original_name="a.mp3", limits=MediaLimits(audio_max_duration_s=10.0)
        ).problems
    ] == [ProblemCode.TOO_LONG]


def test_an_mp3_without_id3_tag_is_still_recognised(media: Media) -> None:
    path = media.mp3(3.0, xing=False)
    assert path.read_bytes()[:2] != b"ID"
    assert probe(path).mime == "audio/mpeg"


def test_the_byte_limit_is_inclusive(media: Media) -> None:
    path = media.wav(3.0)
    size = path.stat().st_size
    assert messages(path, MediaLimits(audio_max_bytes=size)) == []
    assert [
        p.code
        for p in inspect(
            path, original_name="a.wav", limits=MediaLimits(audio_max_bytes=size - 1)
        ).problems
    ] == [ProblemCode.FILE_TOO_LARGE]


def test_a_wav_without_sound_data_is_refused(media: Media, limits: MediaLimits) -> None:
    header = (
        b"RIFF"
        + struct.pack("<I", 28)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    )
    path = media.write("nodata.wav", header)
    result = inspect(path, original_name="nodata.wav", limits=limits)
    assert not result.ok


def test_an_mp3_behind_a_large_cover_picture_is_recognised(media: Media) -> None:
    from mutagen.id3 import APIC, ID3

    path = media.write("cover.mp3", media.mp3(3.0).read_bytes())
    tags = ID3(path)
    cover = media.image((1200, 1200), "PNG", compress_level=0).read_bytes()
    assert len(cover) > 1_000_000  # far past the 64 KB libmagic looks at first
    tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=cover))
    tags.save(path)
    facts = probe(path)
    assert (facts.format, facts.mime) == ("MP3", "audio/mpeg")
    assert facts.duration_s == pytest.approx(3.0, abs=0.1)

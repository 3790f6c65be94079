from __future__ import annotations

import shutil
import struct
import subprocess
import time
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


# --- Cut-short MP3s -------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.1, 1 / 3, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("bitrate", [64_000, 128_000])
def test_an_mp3_holding_less_than_its_info_header_promises_is_refused(
    media: Media, limits: MediaLimits, keep: float, bitrate: int
) -> None:
    source = media.mp3(6.0, bitrate=bitrate)  # LAME writes an Info header for CBR
    assert b"Info" in source.read_bytes()[:4096]
    cut = media.variant(source, f"cut-{bitrate}-{keep:.2f}.mp3", lambda b: b[: int(len(b) * keep)])
    result = inspect(cut, original_name="voice.mp3", limits=limits)
    assert [p.code for p in result.problems] == [ProblemCode.TRUNCATED]
    assert result.problems[0].message.startswith("The MP3 file is cut short")


def test_the_message_gives_both_lengths(media: Media, limits: MediaLimits) -> None:
    source = media.mp3(6.0, bitrate=128_000)
    data = source.read_bytes()
    frame = 418  # 128 kbit/s at 44.1 kHz: 417 or 418 bytes a frame
    cut = media.write("third.mp3", data[: len(data) // 3 // frame * frame])
    assert messages(cut, limits) == [
        "The MP3 file is cut short: its header announces 6.0 s of sound but only 2.0 s is present."
    ]


def test_an_mp3_without_a_header_cut_mid_frame_is_refused(
    media: Media, limits: MediaLimits
) -> None:
    source = media.mp3(6.0, bitrate=128_000, xing=False)
    cut = media.variant(source, "no-header-cut.mp3", lambda b: b[: len(b) // 3 + 100])
    assert messages(cut, limits) == [
        "The MP3 file is cut short: its last sound frame is incomplete."
    ]


def test_a_whole_mp3_and_one_cut_between_frames_are_accepted(
    media: Media, limits: MediaLimits
) -> None:
    # Without a header nothing says how long the file was meant to be: a cut on a frame
    # boundary is a shorter, intact file.
    source = media.mp3(6.0, bitrate=128_000, xing=False)
    assert messages(source, limits) == []
    data = source.read_bytes()
    assert messages(media.write("boundary.mp3", data[: _boundary(data, 150)]), limits) == []


def _boundary(data: bytes, frames: int) -> int:
    from assets.media.layout import mp3_frame

    pos = 0
    for _ in range(frames):
        frame = mp3_frame(data[pos : pos + 4])
        assert frame is not None
        pos += frame.length
    return pos


def test_a_vbri_header_promising_more_frames_is_read_too(media: Media, limits: MediaLimits) -> None:
    data = media.mp3(6.0, bitrate=128_000, xing=False).read_bytes()
    path = media.write("vbri.mp3", _vbri(data, _boundary(data, 1), _frame_count(data) + 100))
    assert [p.code for p in inspect(path, original_name="v.mp3", limits=limits).problems] == [
        ProblemCode.TRUNCATED
    ]


def _vbri(data: bytes, first: int, frames: int) -> bytes:
    """The first frame turned into a VBRI header frame (Fraunhofer's encoders write one, 32
    bytes after the frame header) promising `frames`."""
    header = bytearray(data[:first])
    vbri = b"VBRI" + struct.pack(">HHHII", 1, 0, 75, len(data), frames)
    header[36 : 36 + len(vbri)] = vbri
    return bytes(header) + data[first:]


def _frame_count(data: bytes) -> int:
    from assets.media.layout import mp3_frame

    pos = count = 0
    while (frame := mp3_frame(data[pos : pos + 4])) is not None:
        pos += frame.length
        count += 1
    return count


def test_an_intact_vbri_file_is_accepted(media: Media, limits: MediaLimits) -> None:
    data = media.mp3(6.0, bitrate=128_000, xing=False).read_bytes()
    path = media.write("vbri-intact.mp3", _vbri(data, _boundary(data, 1), _frame_count(data)))
    assert messages(path, limits) == []


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="the ffmpeg command line is not installed")
def test_a_vbr_mp3_with_a_xing_header_cut_short_is_refused(
    media: Media, limits: MediaLimits, tmp_path: Path
) -> None:
    whole = tmp_path / "vbr.mp3"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "6"),
            *("-c:a", "libmp3lame", "-q:a", "4", str(whole)),
        ],
        check=True,
    )
    data = whole.read_bytes()
    assert b"Xing" in data[:4096]
    assert messages(whole, limits) == []
    for keep in (0.3, 0.7, 0.95):
        cut = media.write(f"vbr-{keep}.mp3", data[: int(len(data) * keep)])
        assert [p.code for p in inspect(cut, original_name="v.mp3", limits=limits).problems] == [
            ProblemCode.TRUNCATED
        ]


def test_id3_padding_of_megabytes_costs_nothing(media: Media, limits: MediaLimits) -> None:
    sound = media.mp3(3.0, bitrate=64_000, xing=False).read_bytes()
    padding = 10_000_000
    syncsafe = bytes(((padding >> s) & 0x7F) for s in (21, 14, 7, 0))  # seven bits a byte
    tag = b"ID3\x04\x00\x00" + syncsafe + bytes(padding)
    path = media.write("padded.mp3", tag + sound)
    began = time.perf_counter()
    assert messages(path, limits) == []
    assert time.perf_counter() - began < 1.0


def test_an_id3_tag_of_a_hundred_thousand_frames_is_refused_unread(
    media: Media, limits: MediaLimits
) -> None:
    sound = media.mp3(3.0, bitrate=64_000, xing=False).read_bytes()
    frames = b"".join(b"TXXX" + struct.pack(">I", 1) + b"\0\0" + b"\0" for _ in range(100_000))
    length = len(frames)
    syncsafe = bytes(((length >> s) & 0x7F) for s in (21, 14, 7, 0))
    path = media.write("many-frames.mp3", b"ID3\x03\x00\x00" + syncsafe + frames + sound)
    result = inspect(path, original_name="v.mp3", limits=limits)
    assert [p.code for p in result.problems] == [ProblemCode.CORRUPT]
    assert "malformed" in result.problems[0].message
    assert "frames in its ID3 tag" in result.problems[0].message

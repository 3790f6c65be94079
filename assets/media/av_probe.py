"""Video and audio facts: structure first (our box/RIFF walk), then PyAV, then the packets.

Container headers state a duration; they are often wrong (a VBR MP3 without a Xing header is
estimated from its first frame's bitrate, a truncated WAV still announces its full length), so the
durations reported here come from walking every packet (demux only, nothing is decoded: 1–30 ms).
"""

from __future__ import annotations

import logging
import math
import mmap
import struct
from pathlib import Path
from typing import BinaryIO

import av
import av.container
import mutagen
from mutagen.mp3 import MP3
from mutagen.wave import WAVE

from assets.media import boxes, layout
from assets.media.facts import MediaError, MediaFacts, ProblemCode
from assets.media.sniff import scan_foreign

logger = logging.getLogger(__name__)
_AV_ERRORS = (av.FFmpegError, OSError, ValueError, IndexError)
# FFmpeg's stream-info probe decodes frames to guess parameters we either read from the index
# (size, codec) or measure ourselves (rate, duration): skipping it makes opening a video ~10×
# cheaper (0.5 ms instead of 5.6 ms for a 10 MB MOV). If it leaves the size unknown, we reopen
# with the full probe.
QUICK_OPEN = {"probesize": "32", "analyzeduration": "0"}
_STREAMED = frozenset({0, 0xFFFFFFFF})  # WAV writers that didn't know the length up front


def probe_video(
    path: Path, f: BinaryIO, data: mmap.mmap, mime: str, fmt: str, size: int
) -> MediaFacts:
    """Facts for an MP4/MOV; raises MediaError for broken structure or no video track."""
    movie = boxes.read_movie(f, size)
    embedded = scan_foreign(data, size, trailing_from=None)
    track = next((t for t in movie.tracks if t.handler == b"vide"), None)
    if track is None:
        raise MediaError(
            ProblemCode.NO_VIDEO_TRACK,
            f"The {fmt} file has no video track (it may hold sound only).",
        )
    try:
        with av.open(str(path), mode="r", options=QUICK_OPEN) as container:
            stream = container.streams.video[0] if container.streams.video else None
            if stream is None or stream.codec_context is None or stream.codec_context.width:
                return _video_facts(container, movie, track, mime, fmt, size, embedded)
        with av.open(str(path), mode="r") as container:
            return _video_facts(container, movie, track, mime, fmt, size, embedded)
    except _AV_ERRORS as exc:
        logger.info("FFmpeg refused %s: %s", path, exc)
        raise MediaError(
            ProblemCode.CORRUPT, f"The {fmt} video can't be read: it is damaged."
        ) from None


def _video_facts(
    container: av.container.InputContainer,
    movie: boxes.Movie,
    track: boxes.Track,
    mime: str,
    fmt: str,
    size: int,
    embedded: list[str],
) -> MediaFacts:
    if not container.streams.video:
        raise MediaError(ProblemCode.NO_VIDEO_TRACK, f"The {fmt} file has no readable video.")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # FFmpeg has no decoder for this codec tag
        raise MediaError(ProblemCode.CORRUPT, f"The {fmt} video uses an unknown codec.")
    stored_w, stored_h = stream.codec_context.width, stream.codec_context.height
    rotation, mirrored = _display_rotation(stream) or (track.rotation, track.mirrored)
    width, height = (stored_h, stored_w) if rotation % 180 else (stored_w, stored_h)
    spans = _packet_spans(container)
    video_packets, video_s = spans.get(stream.index, (0, 0.0))
    if video_packets == 0:
        raise MediaError(ProblemCode.CORRUPT, f"The {fmt} video has no frames.")
    # The longest stream is what a player (and ffprobe's format duration) reports.
    duration = max(seconds for _, seconds in spans.values())
    return MediaFacts(
        kind="video",
        mime=mime,
        format=fmt,
        size_bytes=size,
        width=width,
        height=height,
        stored_width=stored_w,
        stored_height=stored_h,
        rotation=rotation,
        mirrored=mirrored,
        duration_s=round(duration, 4),
        declared_duration_s=round(movie.duration / movie.timescale, 4),
        # Counted, not read from the header: headers report time bases (15360) as rates.
        fps=round(video_packets / video_s, 3) if video_s > 0 else None,
        frame_count=video_packets,
        codec=stream.codec_context.name,
        has_audio=bool(container.streams.audio),
        embedded=tuple(embedded),
    )


def _display_rotation(stream: av.VideoStream) -> tuple[int, bool] | None:
    """Clockwise turn and mirroring from FFmpeg's display matrix, if the stream has one."""
    raw = stream.codec_context.coded_side_data.get("display_matrix")
    if not isinstance(raw, bytes) or len(raw) < 36:
        return None
    a, b, _u, c, d = struct.unpack_from("<5i", raw)
    # Same layout and convention as the tkhd matrix (see boxes._read_tkhd).
    return round(math.degrees(math.atan2(b, a)) / 90) % 4 * 90, a * d - b * c < 0


def _packet_spans(container: av.container.InputContainer) -> dict[int, tuple[int, float]]:
    """Per stream index: (packet count, seconds from first packet start to last packet end)."""
    spans: dict[int, list[int]] = {}  # stream index -> [count, first pts, last end]
    for packet in container.demux():
        pts = packet.pts
        if pts is None:  # flush packets carry no data
            continue
        end = pts + (packet.duration or 0)
        span = spans.get(packet.stream_index)
        if span is None:
            spans[packet.stream_index] = [1, pts, end]
            continue
        span[0] += 1
        if pts < span[1]:
            span[1] = pts
        if end > span[2]:
            span[2] = end
    bases = {s.index: s.time_base or 0 for s in container.streams}
    return {
        index: (count, float((last - first) * bases[index]))
        for index, (count, first, last) in spans.items()
    }


def probe_audio(path: Path, data: mmap.mmap, mime: str, fmt: str, size: int) -> MediaFacts:
    """Facts for an MP3/WAV; raises MediaError for a damaged or cut-short file."""
    try:
        header: mutagen.FileType = WAVE(path) if fmt == "WAV" else MP3(path)
    except (mutagen.MutagenError, struct.error, ValueError, EOFError, OSError) as exc:
        logger.info("mutagen refused %s: %s", path, exc)
        raise MediaError(
            ProblemCode.CORRUPT, f"The {fmt} file can't be read: it is damaged."
        ) from None
    info = header.info
    declared = float(getattr(info, "length", 0.0) or 0.0)
    end, duration = size, None
    if fmt == "WAV":
        wav = layout.wav_layout(data, size)
        end = wav.end
        if wav.data_bytes < wav.declared_data_bytes and wav.declared_data_bytes not in _STREAMED:
            have, want = (
                _pcm_seconds(wav, wav.data_bytes),
                _pcm_seconds(wav, wav.declared_data_bytes),
            )
            raise MediaError(
                ProblemCode.TRUNCATED,
                f"The WAV file is cut short: its header announces {want:.1f} s of sound "
                f"but only {have:.1f} s is present.",
            )
        if wav.format_tag in {1, 3} and wav.block_align and wav.sample_rate:
            # Uncompressed PCM/float: the length is exact arithmetic, no demuxing needed.
            duration = _pcm_seconds(wav, wav.data_bytes)
    if duration is None:
        duration = _demuxed_seconds(path, fmt)
    embedded = scan_foreign(data, size, trailing_from=end if end < size else None)
    return MediaFacts(
        kind="audio",
        mime=mime,
        format=fmt,
        size_bytes=size,
        duration_s=round(duration, 4),
        declared_duration_s=round(declared, 4),
        codec="pcm" if fmt == "WAV" else "mp3",
        sample_rate=int(getattr(info, "sample_rate", 0) or 0) or None,
        channels=int(getattr(info, "channels", 0) or 0) or None,
        trailing_bytes=size - end,
        embedded=tuple(embedded),
    )


def _pcm_seconds(wav: layout.WavLayout, data_bytes: int) -> float:
    return (data_bytes // wav.block_align) / wav.sample_rate if wav.block_align else 0.0


def _demuxed_seconds(path: Path, fmt: str) -> float:
    try:
        with av.open(str(path), mode="r", options=QUICK_OPEN) as container:
            if not container.streams.audio:
                raise MediaError(ProblemCode.CORRUPT, f"The {fmt} file holds no sound.")
            index = container.streams.audio[0].index
            count, seconds = _packet_spans(container).get(index, (0, 0.0))
    except _AV_ERRORS as exc:
        logger.info("FFmpeg refused %s: %s", path, exc)
        raise MediaError(
            ProblemCode.CORRUPT, f"The {fmt} file can't be read: it is damaged."
        ) from None
    if count == 0:
        raise MediaError(ProblemCode.CORRUPT, f"The {fmt} file holds no sound.")
    return seconds

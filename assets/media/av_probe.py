"""Video and audio facts: structure first (our box/RIFF walk), then PyAV, then the packets.

Container headers state a duration; they are often wrong (a VBR MP3 without a Xing header is
estimated from its first frame's bitrate, a truncated WAV still announces its full length), so the
durations reported here come from walking every packet (demux only, nothing is decoded: 1–30 ms).
Where a header does promise a length (WAV's data size, MP3's Xing/Info/VBRI frame count), a file
holding less than it promises is refused as cut short.

A video's duration is its presentation, as ffprobe reports it: packets FFmpeg marks to be
discarded (the AAC encoder's priming samples, which an edit list skips) don't count, and no
stream ends later than its edit list says it does. The walk counts samples the box walk has
already capped (`bounds.MAX_SAMPLES`), and stops as soon as the file is clearly too long
(`walk_s`, four times the longest acceptable length), so it costs a fraction of a second
whatever the file holds; a video stopped there reports the longer of what was walked and what
its index declares.
"""

from __future__ import annotations

import logging
import math
import mmap
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container

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
    path: Path, data: mmap.mmap, mime: str, fmt: str, size: int, walk_s: float
) -> MediaFacts:
    """Facts for an MP4/MOV; raises MediaError for broken structure or no video track."""
    movie = boxes.read_movie(data, size)
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
                return _video_facts(container, movie, track, mime, fmt, size, embedded, walk_s)
        with av.open(str(path), mode="r") as container:
            return _video_facts(container, movie, track, mime, fmt, size, embedded, walk_s)
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
    walk_s: float,
) -> MediaFacts:
    if not container.streams.video:
        raise MediaError(ProblemCode.NO_VIDEO_TRACK, f"The {fmt} file has no readable video.")
    stream = container.streams.video[0]
    if stream.codec_context is None:  # FFmpeg has no decoder for this codec tag
        raise MediaError(ProblemCode.CORRUPT, f"The {fmt} video uses an unknown codec.")
    stored_w, stored_h = stream.codec_context.width, stream.codec_context.height
    rotation, mirrored = _display_rotation(stream) or (track.rotation, track.mirrored)
    width, height = (stored_h, stored_w) if rotation % 180 else (stored_w, stored_h)
    spans = _packet_spans(container, stop_after_s=walk_s)
    if stream.index not in spans:
        raise MediaError(ProblemCode.CORRUPT, f"The {fmt} video has no frames.")
    video = spans[stream.index]
    duration = _presentation_seconds(container, spans)
    if any(span.seconds > walk_s for span in spans.values()):
        duration = max(duration, movie.duration / movie.timescale)  # too long either way
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
        fps=round(video.count / video.seconds, 3) if video.seconds > 0 else None,
        frame_count=video.count,
        key_frames=track.sync_samples,
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


@dataclass(slots=True)
class Span:
    """One stream's packets: how many, and from the first one's start to the last one's end,
    in the stream's time base."""

    count: int
    first: int
    last: int
    time_base: Fraction
    last_packet: av.Packet

    @property
    def seconds(self) -> float:
        return float((self.last - self.first) * self.time_base)


def _packet_spans(
    container: av.container.InputContainer,
    streams: list[av.stream.Stream] | None = None,
    stop_after_s: float | None = None,
) -> dict[int, Span]:
    """Per stream index, the span of the packets of `streams` (all by default); packets FFmpeg
    marks as discarded (before an edit list's start) are left out. With `stop_after_s`, the
    walk ends once any stream has run that long."""
    spans: dict[int, Span] = {}
    bases = {
        s.index: Fraction(s.time_base.numerator, s.time_base.denominator)
        if s.time_base
        else Fraction(0)
        for s in container.streams
    }
    limits = {
        index: (int(stop_after_s / base) if base and stop_after_s is not None else None)
        for index, base in bases.items()
    }
    # Per packet, only comparisons and attribute writes: this loop is most of a sound file's
    # check (builtins like min() per packet cost a third more).
    for packet in container.demux(streams or list(container.streams)):
        pts = packet.pts
        if pts is None or packet.is_discard:  # flush packets carry no data
            continue
        end = pts + (packet.duration or 0)
        index = packet.stream_index
        span = spans.get(index)
        if span is None:
            spans[index] = span = Span(1, pts, end, bases[index], packet)
        else:
            span.count += 1
            if pts < span.first:
                span.first = pts
            if end > span.last:
                span.last = end
            span.last_packet = packet
        limit = limits[index]
        if limit is not None and span.last - span.first > limit:
            break
    return spans


def _presentation_seconds(container: av.container.InputContainer, spans: dict[int, Span]) -> float:
    """The movie's length as a player (and ffprobe) presents it: from the earliest packet, or 0
    if one starts before it (a packet the edit list cuts into), to the latest end, where no
    stream ends after its own edit list does. Empty edits (a stream that starts late) count."""
    ends, starts = [], []
    for stream in container.streams:
        span = spans.get(stream.index)
        if span is None:
            continue
        last = span.last
        if stream.duration and stream.time_base:
            # FFmpeg sets a stream's duration from its edit list; the last packet may run past
            # an edit's end (an AAC frame is 1,024 samples, edits are in movie time units).
            last = min(last, (stream.start_time or 0) + stream.duration)
        ends.append(float(last * span.time_base))
        starts.append(float(span.first * span.time_base))
    return max(ends) - max(0.0, min(starts))


def probe_audio(
    path: Path, data: mmap.mmap, mime: str, fmt: str, size: int, walk_s: float
) -> MediaFacts:
    """Facts for an MP3/WAV; raises MediaError for a damaged or cut-short file."""
    if fmt == "WAV":
        return _probe_wav(path, data, mime, size, walk_s)
    mp3 = layout.mp3_layout(data, size)
    seconds, count, last = _demuxed(path, fmt, walk_s)
    promised = mp3.declared_frames
    per_frame = mp3.first.samples / mp3.first.sample_rate
    # Some encoders count the header frame itself: one frame short is not a cut.
    if promised is not None and count + 1 < promised and seconds <= walk_s:
        raise MediaError(
            ProblemCode.TRUNCATED,
            f"The MP3 file is cut short: its header announces {promised * per_frame:.1f} s of "
            f"sound but only {count * per_frame:.1f} s is present.",
        )
    if last is not None:
        frame = layout.mp3_frame(last[:4])
        if frame is not None and len(last) < frame.length:
            raise MediaError(
                ProblemCode.TRUNCATED,
                "The MP3 file is cut short: its last sound frame is incomplete.",
            )
    embedded = scan_foreign(data, size, trailing_from=None)
    # Without a frame count, players estimate the length from the first frame's bit rate.
    frames = promised if promised is not None else (size - mp3.first.start) / mp3.first.length
    return MediaFacts(
        kind="audio",
        mime=mime,
        format=fmt,
        size_bytes=size,
        duration_s=round(seconds, 4),
        declared_duration_s=round(frames * per_frame, 4),
        codec="mp3",
        sample_rate=mp3.first.sample_rate,
        channels=mp3.first.channels,
        embedded=tuple(embedded),
    )


def _probe_wav(path: Path, data: mmap.mmap, mime: str, size: int, walk_s: float) -> MediaFacts:
    wav = layout.wav_layout(data, size)
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
        declared = _pcm_seconds(wav, wav.declared_data_bytes)
    else:
        duration, _count, _last = _demuxed(path, "WAV", walk_s)
        declared = None
    embedded = scan_foreign(data, size, trailing_from=wav.end if wav.end < size else None)
    return MediaFacts(
        kind="audio",
        mime=mime,
        format="WAV",
        size_bytes=size,
        duration_s=round(duration, 4),
        declared_duration_s=round(declared, 4) if declared is not None else None,
        codec="pcm",
        sample_rate=wav.sample_rate or None,
        channels=wav.channels or None,
        trailing_bytes=size - wav.end,
        embedded=tuple(embedded),
    )


def _pcm_seconds(wav: layout.WavLayout, data_bytes: int) -> float:
    return (data_bytes // wav.block_align) / wav.sample_rate if wav.block_align else 0.0


def _demuxed(path: Path, fmt: str, walk_s: float) -> tuple[float, int, bytes | None]:
    """(seconds, packet count, the last packet's bytes) of the file's sound stream; the walk
    stops past `walk_s`."""
    try:
        with av.open(str(path), mode="r", options=QUICK_OPEN) as container:
            if not container.streams.audio:
                raise MediaError(ProblemCode.CORRUPT, f"The {fmt} file holds no sound.")
            stream = container.streams.audio[0]
            span = _packet_spans(container, [stream], walk_s).get(stream.index)
            tail = bytes(span.last_packet) if span is not None else None
    except _AV_ERRORS as exc:
        logger.info("FFmpeg refused %s: %s", path, exc)
        raise MediaError(
            ProblemCode.CORRUPT, f"The {fmt} file can't be read: it is damaged."
        ) from None
    if span is None:
        raise MediaError(ProblemCode.CORRUPT, f"The {fmt} file holds no sound.")
    return span.seconds, span.count, tail

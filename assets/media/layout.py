"""Where a file's own format says it ends, so that anything appended after it shows up.

Decoders stop at the format's end marker and ignore what follows, which is how a picture can
also be a ZIP archive or carry a script. Each walker reads only headers and lengths (or, for
JPEG, scans the compressed data with a C-speed regex), and raises MediaError when the structure
itself is broken. Each walk counts what it visits against the caps in `bounds`, so a file of
millions of empty segments, chunks or blocks is refused after a few thousand of them.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass

from assets.media.bounds import (
    MAX_GIF_BLOCKS,
    MAX_GIF_SUB_BLOCKS,
    MAX_ID3_FRAMES,
    MAX_JPEG_PICTURES,
    MAX_JPEG_SEGMENTS,
    MAX_PNG_ANCILLARY,
    MAX_PNG_CHUNKS,
    MAX_RIFF_CHUNKS,
    Budget,
)
from assets.media.facts import MediaError, ProblemCode

_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Start-of-frame markers (all but DHT, JPG and DAC in 0xC0–0xCF): they carry the sample precision.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
# End of entropy-coded data: 0xFF followed by anything but a stuffed zero, a restart marker or
# fill. The match is the next marker (another scan's tables, or EOI).
JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
Buffer = bytes | bytearray | memoryview | mmap.mmap


def _cut(what: str, detail: str) -> MediaError:
    return MediaError(ProblemCode.TRUNCATED, f"The {what} is damaged or cut short: {detail}.")


@dataclass(slots=True)
class JpegFrame:
    """What the start-of-frame segment of the primary picture says."""

    precision: int = 8
    width: int = 0
    height: int = 0
    components: int = 0
    progressive: bool = False


def jpeg_end(data: Buffer, size: int, start: int = 0, frame: JpegFrame | None = None) -> int:
    """Offset just past the EOI marker of the JPEG image that starts at `start`; its
    start-of-frame facts go into `frame` when one is given."""
    budget = Budget(MAX_JPEG_SEGMENTS, "JPEG image", "markers")
    pos = start + 2
    while True:
        budget.take()  # fill bytes too: a run of millions of them costs as much as segments
        if pos + 2 > size:
            raise _cut("JPEG image", "it ends before its end-of-image marker")
        if data[pos] != 0xFF:
            raise MediaError(
                ProblemCode.CORRUPT, f"The JPEG image is damaged: no marker at byte {pos:,}."
            )
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if pos + 4 > size:
            raise _cut("JPEG image", "a segment header is cut off")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if frame is not None and marker in _JPEG_FRAMES and pos + 10 <= size:
            frame.precision, frame.height, frame.width, frame.components = struct.unpack_from(
                ">BHHB", data, pos + 4
            )
            frame.progressive = marker in _JPEG_PROGRESSIVE
            frame = None  # only the first: a JPEG has one frame per picture
        pos += 2 + length
        if marker == 0xDA:
            match = JPEG_MARKER.search(data, pos)
            if match is None:
                raise _cut("JPEG image", "the compressed picture data is incomplete")
            pos = match.start()


def jpeg_images_end(data: Buffer, size: int, frame: JpegFrame | None = None) -> int:
    """Offset just past the primary JPEG and any JPEGs that directly follow it.

    Phones append secondary pictures after the primary one (the multi-picture format: HDR gain
    maps, depth maps, previews); they are part of the photo, not foreign data. Past
    `MAX_JPEG_PICTURES` of them, the rest counts as trailing data.
    """
    end = jpeg_end(data, size, frame=frame)
    pictures = 1
    while (
        end + 3 <= size
        and bytes(data[end : end + 3]) == b"\xff\xd8\xff"
        and pictures < MAX_JPEG_PICTURES
    ):
        try:
            end = jpeg_end(data, size, end)
        except MediaError:
            break  # not a well-formed picture after all: it counts as trailing data
        pictures += 1
    return end


def png_end(data: Buffer, size: int) -> tuple[int, int]:
    """Offset just past the IEND chunk, and the number of animation frames (APNG), 1 if none."""
    chunks = Budget(MAX_PNG_CHUNKS, "PNG image", "chunks")
    ancillary = Budget(MAX_PNG_ANCILLARY, "PNG image", "chunks besides its picture data")
    pos, frames = 8, 1
    while pos + 12 <= size:
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunks.take()
        if kind not in {b"IDAT", b"fdAT"}:
            ancillary.take()
        pos += 12 + length
        if kind == b"acTL" and length >= 8:
            frames = max(1, struct.unpack_from(">I", data, pos - 4 - length)[0])
        if kind == b"IEND":
            if pos > size:
                break
            return pos, frames
    raise _cut("PNG image", "it ends before its IEND chunk")


@dataclass(frozen=True, slots=True)
class GifLayout:
    end: int
    frames: int


def gif_layout(data: Buffer, size: int) -> GifLayout:
    """Offset just past the GIF trailer (0x3B), and the number of frames."""
    if size < 13:
        raise _cut("GIF image", "its header is incomplete")
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0
    blocks = Budget(MAX_GIF_BLOCKS, "GIF image", "blocks")
    sub_blocks = Budget(MAX_GIF_SUB_BLOCKS, "GIF image", "data blocks")
    while pos < size:
        block = data[pos]
        if block == 0x3B:
            return GifLayout(pos + 1, frames)
        blocks.take()
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2, size, sub_blocks)
        elif block == 0x2C:  # image: descriptor, optional local colour table, LZW size, data
            if pos + 10 > size:
                break
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            pos = _skip_sub_blocks(data, pos, size, sub_blocks)
            frames += 1
        else:
            raise MediaError(
                ProblemCode.CORRUPT, f"The GIF image is damaged: unknown block at byte {pos:,}."
            )
    raise _cut("GIF image", "it ends before its trailer")


def _skip_sub_blocks(data: Buffer, pos: int, size: int, budget: Budget) -> int:
    while pos < size:
        budget.take()
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
    raise _cut("GIF image", "a data block is incomplete")


def riff_end(data: Buffer, size: int, what: str) -> int:
    """Offset just past a RIFF file (WebP, WAV) as its header declares it. Its chunks are
    walked, at most `MAX_RIFF_CHUNKS` of them, so that no decoder meets a flood of them."""
    (declared,) = struct.unpack_from("<I", data, 4)
    end = 8 + declared + (declared & 1)
    if 8 + declared > size:
        raise _cut(what, f"its header declares {8 + declared:,} bytes but the file has {size:,}")
    budget = Budget(MAX_RIFF_CHUNKS, what, "chunks")
    pos, stop = 12, 8 + declared
    while pos + 8 <= stop:
        budget.take()
        (length,) = struct.unpack_from("<I", data, pos + 4)
        pos += 8 + length + (length & 1)
    return min(end, size)


@dataclass(frozen=True, slots=True)
class WavLayout:
    end: int
    format_tag: int
    channels: int
    sample_rate: int
    block_align: int
    bits: int
    data_bytes: int
    declared_data_bytes: int


def wav_layout(data: Buffer, size: int) -> WavLayout:
    """The WAV chunks that matter; a `data` chunk longer than the file means it was cut short."""
    if size < 12 or bytes(data[8:12]) != b"WAVE":
        raise MediaError(ProblemCode.CORRUPT, "The WAV file is damaged: no WAVE header.")
    (declared_riff,) = struct.unpack_from("<I", data, 4)
    pos, fmt = 12, None
    budget = Budget(MAX_RIFF_CHUNKS, "WAV file", "chunks")
    while pos + 8 <= size:
        budget.take()
        kind, length = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if kind == b"LIST":
            _count_list(data, body, min(size, body + length), budget)
        if kind == b"fmt " and length >= 16 and body + 16 <= size:
            fmt = struct.unpack_from("<HHIIHH", data, body)
            if fmt[0] == 0xFFFE and length >= 40 and body + 26 <= size:  # WAVE_FORMAT_EXTENSIBLE
                fmt = (struct.unpack_from("<H", data, body + 24)[0], *fmt[1:])
        elif kind == b"data":
            if fmt is None:
                break
            tag, channels, rate, _byte_rate, align, bits = fmt
            present = min(length, size - body)
            end = min(size, 8 + declared_riff + (declared_riff & 1))
            # FFmpeg reads the chunks after the sound too (for tags): they count as well.
            after = body + length + (length & 1)
            while after + 8 <= end:
                budget.take()
                kind, skip = struct.unpack_from("<4sI", data, after)
                if kind == b"LIST":
                    _count_list(data, after + 8, min(end, after + 8 + skip), budget)
                after += 8 + skip + (skip & 1)
            return WavLayout(
                max(end, body + present), tag, channels, rate, align, bits, present, length
            )
        pos = body + length + (length & 1)
    raise MediaError(ProblemCode.CORRUPT, "The WAV file is damaged: no format or sound data chunk.")


def _count_list(data: Buffer, start: int, end: int, budget: Budget) -> None:
    """Count the entries of a LIST chunk (INFO tags): FFmpeg keeps each in a dictionary that
    it searches linearly on every insertion."""
    pos = start + 4  # the list's type, "INFO"
    while pos + 8 <= end:
        budget.take()
        (length,) = struct.unpack_from("<I", data, pos + 4)
        pos += 8 + length + (length & 1)


# MPEG audio layer III: bit rates (kbit/s) by index, for MPEG-1 and for MPEG-2/2.5.
_MP3_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True, slots=True)
class Mp3Frame:
    """One frame header: where the frame starts and how long the header says it is."""

    start: int
    length: int
    sample_rate: int
    channels: int
    samples: int  # per frame: 1152 for MPEG-1, 576 for MPEG-2 and 2.5


def mp3_frame(header: bytes, start: int = 0) -> Mp3Frame | None:
    """The layer III frame whose 4-byte header is `header`, or None if it isn't one."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate, rate = header[2] >> 4, (header[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate in (0, 15) or rate == 3:
        return None
    mpeg1 = version == 3
    kbps = _MP3_BITRATES[1 if mpeg1 else 2][bitrate]
    sample_rate = _MP3_RATES[version][rate]
    samples = 1152 if mpeg1 else 576
    padding = (header[2] >> 1) & 1
    length = samples // 8 * kbps * 1000 // sample_rate + padding
    channels = 1 if header[3] >> 6 == 3 else 2
    return Mp3Frame(start, length, sample_rate, channels, samples)


@dataclass(frozen=True, slots=True)
class Mp3Layout:
    first: Mp3Frame
    declared_frames: int | None  # what a Xing/Info or VBRI header promises, if there is one


def mp3_layout(data: Buffer, size: int) -> Mp3Layout:
    """The first audio frame after the ID3v2 tag, and the frame count its header promises.

    The ID3v2 tag's frames are walked (at most `MAX_ID3_FRAMES`; padding ends the walk) before
    FFmpeg, which keeps each one as metadata, reads them.
    """
    start = _skip_id3v2(data, size)
    first = mp3_frame(bytes(data[start : start + 4]), start)
    if first is None:
        raise MediaError(
            ProblemCode.CORRUPT, "The MP3 file is damaged: no sound frame after its tag."
        )
    mpeg1 = first.samples == 1152
    side_info = (32 if first.channels == 2 else 17) if mpeg1 else (17 if first.channels == 2 else 9)
    at = start + 4 + side_info
    tag = bytes(data[at : at + 4])
    declared = None
    if tag in (b"Xing", b"Info") and at + 12 <= size:
        flags, frames = struct.unpack_from(">II", data, at + 4)
        if flags & 1:
            declared = frames
    elif bytes(data[start + 36 : start + 40]) == b"VBRI" and start + 54 <= size:
        # VBRI: version, delay, quality (2 bytes each), then bytes and frames (4 each).
        (declared,) = struct.unpack_from(">I", data, start + 36 + 14)
    return Mp3Layout(first, declared)


def _skip_id3v2(data: Buffer, size: int) -> int:
    """Offset just past the ID3v2 tag at the start, if any (0 if none)."""
    header = bytes(data[:10])
    if not header.startswith(b"ID3") or len(header) < 10:
        return 0
    major, flags = header[3], header[5]
    length = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]
    end = 10 + length + (10 if flags & 0x10 else 0)
    if end > size:
        raise _cut("MP3 file", "its ID3 tag runs past the end of the file")
    pos = 10
    if flags & 0x40 and major >= 3 and pos + 4 <= end:  # an extended header comes first
        (extended,) = struct.unpack_from(">I", data, pos)
        pos += _syncsafe(extended) if major == 4 else 4 + extended
    budget = Budget(MAX_ID3_FRAMES, "MP3 file", "frames in its ID3 tag")
    frame_header = 10 if major >= 3 else 6
    while pos + frame_header <= 10 + length and data[pos] != 0:  # a zero byte starts padding
        budget.take()
        if major >= 3:
            (frame_size,) = struct.unpack_from(">I", data, pos + 4)
            frame_size = _syncsafe(frame_size) if major == 4 else frame_size
        else:
            frame_size = int.from_bytes(bytes(data[pos + 3 : pos + 6]), "big")
        pos += frame_header + frame_size
    return end


def _syncsafe(value: int) -> int:
    return (
        (value & 0x7F) | (value >> 1 & 0x3F80) | (value >> 2 & 0x1FC000) | (value >> 3 & 0xFE00000)
    )

"""Where a file's own format says it ends, so that anything appended after it shows up.

Decoders stop at the format's end marker and ignore what follows, which is how a picture can
also be a ZIP archive or carry a script. Each walker reads only headers and lengths (or, for
JPEG, scans the compressed data with a C-speed regex), and raises MediaError when the structure
itself is broken.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass

from assets.media.facts import MediaError, ProblemCode

_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# End of entropy-coded data: 0xFF followed by anything but a stuffed zero, a restart marker or
# fill. The match is the next marker (another scan's tables, or EOI).
JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
Buffer = bytes | bytearray | memoryview | mmap.mmap


def _cut(what: str, detail: str) -> MediaError:
    return MediaError(ProblemCode.TRUNCATED, f"The {what} is damaged or cut short: {detail}.")


def jpeg_end(data: Buffer, size: int, start: int = 0) -> int:
    """Offset just past the EOI marker of the JPEG image that starts at `start`."""
    pos = start + 2
    while True:
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
        pos += 2 + length
        if marker == 0xDA:
            match = JPEG_MARKER.search(data, pos)
            if match is None:
                raise _cut("JPEG image", "the compressed picture data is incomplete")
            pos = match.start()


def jpeg_images_end(data: Buffer, size: int) -> int:
    """Offset just past the primary JPEG and any JPEGs that directly follow it.

    Phones append secondary pictures after the primary one (the multi-picture format: HDR gain
    maps, depth maps, previews); they are part of the photo, not foreign data.
    """
    end = jpeg_end(data, size)
    while end + 3 <= size and bytes(data[end : end + 3]) == b"\xff\xd8\xff":
        try:
            end = jpeg_end(data, size, end)
        except MediaError:
            break  # not a well-formed picture after all: it counts as trailing data
    return end


def png_end(data: Buffer, size: int) -> tuple[int, int]:
    """Offset just past the IEND chunk, and the number of animation frames (APNG), 1 if none."""
    pos, frames = 8, 1
    while pos + 12 <= size:
        length, kind = struct.unpack_from(">I4s", data, pos)
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
    while pos < size:
        block = data[pos]
        if block == 0x3B:
            return GifLayout(pos + 1, frames)
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2, size)
        elif block == 0x2C:  # image: descriptor, optional local colour table, LZW size, data
            if pos + 10 > size:
                break
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            pos = _skip_sub_blocks(data, pos, size)
            frames += 1
        else:
            raise MediaError(
                ProblemCode.CORRUPT, f"The GIF image is damaged: unknown block at byte {pos:,}."
            )
    raise _cut("GIF image", "it ends before its trailer")


def _skip_sub_blocks(data: Buffer, pos: int, size: int) -> int:
    while pos < size:
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
    raise _cut("GIF image", "a data block is incomplete")


def riff_end(data: Buffer, size: int, what: str) -> int:
    """Offset just past a RIFF file (WebP, WAV) as its header declares it."""
    (declared,) = struct.unpack_from("<I", data, 4)
    end = 8 + declared + (declared & 1)
    if 8 + declared > size:
        raise _cut(what, f"its header declares {8 + declared:,} bytes but the file has {size:,}")
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
    while pos + 8 <= size:
        kind, length = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
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
            return WavLayout(
                max(end, body + present), tag, channels, rate, align, bits, present, length
            )
        pos = body + length + (length & 1)
    raise MediaError(ProblemCode.CORRUPT, "The WAV file is damaged: no format or sound data chunk.")

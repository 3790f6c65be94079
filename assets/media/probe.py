"""Measure a media file without trusting it: `probe(path) -> MediaFacts` or `MediaError`.

Order of work, cheapest first, so hostile files cost little: size, the content's signature
against the allow-list, the format's own structure (where it ends, what hides after it, with the
caps of `bounds`), lazy header parse, decompression-bomb check on the declared pixel count, and
only then one integrity decode, when its memory fits the web worker (`bounds.WEB_DECODE_BYTES`);
a picture too large for that, and every HEIC, is decoded by the worker before the upstream call
(`assets.media.pixels`).
"""

from __future__ import annotations

import logging
import mmap
import struct
from contextlib import ExitStack
from pathlib import Path

import pillow_heif
from PIL import Image, UnidentifiedImageError

from assets.media import av_probe, boxes, layout
from assets.media.bounds import WEB_DECODE_BYTES
from assets.media.facts import MediaError, MediaFacts, ProblemCode
from assets.media.limits import MediaLimits
from assets.media.sniff import FORMATS, describe, display_name, scan_foreign, sniff_mime

pillow_heif.register_heif_opener()
Image.init()
logger = logging.getLogger(__name__)

# Our format name -> the Pillow plugin allowed to open it. Restricting Pillow to one plugin means
# it never falls back to guessing from other formats' signatures.
_PIL_FORMAT = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF", "HEIC": "HEIF"}
# EXIF orientation -> (clockwise turn, mirrored first). 5–8 swap width and height.
_ORIENTATION = {
    1: (0, False),
    2: (0, True),
    3: (180, False),
    4: (180, True),
    5: (270, True),
    6: (90, False),
    7: (90, True),
    8: (270, False),
}
# Everything a Pillow plugin is known to raise on hostile input.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError)


def probe(path: Path, *, limits: MediaLimits | None = None) -> MediaFacts:
    """Facts about the file at `path`, or MediaError saying in plain words what is wrong.

    `limits` only tunes how much work is safe (the bomb threshold); judging the facts against
    the limits is `checks.check`'s job. Never decodes an image whose declared pixel count exceeds
    `limits.image_bomb_pixels`, or any larger than the largest acceptable image.
    """
    limits = limits or MediaLimits()
    size = path.stat().st_size
    if size == 0:
        raise MediaError(ProblemCode.EMPTY_FILE, "The file is empty (0 bytes).")
    with ExitStack() as stack:
        f = stack.enter_context(path.open("rb"))
        data = stack.enter_context(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
        mime = sniff_mime(data, size)
        if mime is None:
            raise MediaError(
                ProblemCode.UNKNOWN_TYPE,
                f"This file is not a picture, video or sound file we can take "
                f"(it looks like: {describe(path)}).",
            )
        kind, fmt = FORMATS[mime]
        if kind == "image":
            return _probe_image(path, data, mime, fmt, size, limits)
        # Past four times the longest acceptable length, a file is too long whatever the rest
        # holds: the packet walk stops there.
        if kind == "video":
            walk_s = 4 * limits.video_max_duration_s
            return av_probe.probe_video(path, data, mime, fmt, size, walk_s)
        walk_s = 4 * limits.audio_max_duration_s
        return av_probe.probe_audio(path, data, mime, fmt, size, walk_s)


def _probe_image(
    path: Path, data: mmap.mmap, mime: str, fmt: str, size: int, limits: MediaLimits
) -> MediaFacts:
    frame = layout.JpegFrame()
    end, frames = _image_layout(data, fmt, size, frame)
    embedded = scan_foreign(data, size, trailing_from=end if end < size else None)
    # The format's own opener, not Image.open: Image.open would try other formats' signatures,
    # and it warns about large pictures through `warnings`, which can only be silenced with
    # catch_warnings(), a process-wide switch that threads (gunicorn's) race on. Our own
    # bomb threshold, lower than Pillow's, is applied in _measure before anything is decoded.
    factory, _accept = Image.OPEN[_PIL_FORMAT[fmt]]
    try:
        with path.open("rb") as fp, factory(fp, path.name) as im:
            return _measure(im, mime, fmt, size, end, frames, embedded, limits, frame)
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        logger.info("Pillow refused %s: %s", path, exc)
        name = display_name(fmt)
        raise MediaError(
            ProblemCode.CORRUPT,
            f"The {name} image can't be read: it is damaged or not really a {name}.",
        ) from None


def _image_layout(data: mmap.mmap, fmt: str, size: int, frame: layout.JpegFrame) -> tuple[int, int]:
    """(logical end, frame count or 0 if the header will tell) from the format's own structure;
    a JPEG's start-of-frame facts go into `frame`."""
    if fmt == "JPEG":
        end = layout.jpeg_images_end(data, size, frame)
        if frame.precision != 8:
            raise MediaError(
                ProblemCode.FORMAT_NOT_ALLOWED,
                f"This is a {frame.precision}-bit JPEG, which is not supported; save it as an "
                "8-bit JPEG.",
            )
        return end, 1
    if fmt == "PNG":
        return layout.png_end(data, size)
    if fmt == "GIF":
        gif = layout.gif_layout(data, size)
        return gif.end, gif.frames
    if fmt == "WEBP":
        return layout.riff_end(data, size, "WebP image"), 0  # Pillow counts frames from the header
    # HEIC: the boxes must tile the file, and every item's bytes must be inside it. A full HEVC
    # decode costs ~0.9 s and ~100 MB for 12 MP, so it is the worker's (assets.media.pixels).
    _check_heif_items(data, size)
    return size, 0


def _check_heif_items(data: mmap.mmap, size: int) -> None:
    what = "HEIC image"
    meta = None
    for top in boxes.top_level_boxes(data, size, what):  # all of them: they must tile the file
        if top.type == b"meta" and meta is None:
            meta = top
    if meta is None:
        raise MediaError(ProblemCode.CORRUPT, "The HEIC image is damaged: it has no item index.")
    with memoryview(data) as view:
        buf = view[meta.start : meta.end]
        try:
            local = boxes.Box(meta.type, 0, meta.header_size, meta.size)
            items = boxes.read_items(buf, local, meta.start, what)
        except (struct.error, IndexError):
            raise MediaError(
                ProblemCode.CORRUPT, "The HEIC image's item index is damaged."
            ) from None
        finally:
            buf.release()
    for item in items:
        for offset, length in item.extents:
            if offset + length > size:
                raise MediaError(
                    ProblemCode.TRUNCATED,
                    f"The HEIC image is damaged or cut short: item {item.id} needs bytes up to "
                    f"{offset + length:,} but the file has {size:,}.",
                )


def _measure(
    im: Image.Image,
    mime: str,
    fmt: str,
    size: int,
    end: int,
    frames: int,
    embedded: list[str],
    limits: MediaLimits,
    frame: layout.JpegFrame,
) -> MediaFacts:
    stored_w, stored_h = im.size
    if fmt == "HEIC":
        # libheif already applied the container's rotation: im.size is the display size, and
        # pillow-heif keeps the EXIF value it neutralised in `original_orientation`.
        orientation = int(im.info.get("original_orientation") or 1)
    elif fmt in {"JPEG", "WEBP"}:
        # Never on PNG: there getexif() forces a full decode (50–90 ms).
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    else:
        orientation = 1
    rotation, mirrored = _ORIENTATION.get(orientation, (0, False))
    swap = rotation in {90, 270}
    width, height = (stored_h, stored_w) if swap else (stored_w, stored_h)
    if fmt == "HEIC":
        width, height = stored_w, stored_h
        stored_w, stored_h = (stored_h, stored_w) if swap else (stored_w, stored_h)
    if not frames:
        frames = int(getattr(im, "n_frames", 1) or 1)
    pixels = stored_w * stored_h
    biggest = limits.image_max_side_px
    decodable = pixels <= limits.image_bomb_pixels and max(stored_w, stored_h) <= biggest
    decoded = decodable and decode_bytes(im, fmt, frame) <= WEB_DECODE_BYTES
    if decoded:
        if fmt == "JPEG":
            # DCT scaling decodes at 1/8 size: every byte is still parsed, for ~1/10 the cost.
            im.draft("RGB", (max(1, stored_w // 8), max(1, stored_h // 8)))
        im.load()
    return MediaFacts(
        kind="image",
        mime=mime,
        format=fmt,
        size_bytes=size,
        width=width,
        height=height,
        stored_width=stored_w,
        stored_height=stored_h,
        rotation=rotation,
        mirrored=mirrored,
        frame_count=frames,
        animated=frames > 1,
        codec=fmt,
        trailing_bytes=size - end,
        embedded=tuple(embedded),
        decoded=decoded,
    )


def decode_bytes(im: Image.Image, fmt: str, frame: layout.JpegFrame) -> int:
    """Memory a full decode of `im` takes: Pillow keeps 1, 2 or 4 bytes a pixel. A JPEG is
    decoded at 1/8 scale, which costs little, unless it is progressive: libjpeg then holds every
    coefficient (2 bytes a sample) whatever the scale. HEIC decoding is never cheap enough."""
    w, h = im.size
    if fmt == "HEIC":
        return 1 << 62
    if fmt == "JPEG":
        return w * h * 2 * max(frame.components, 1) if frame.progressive else w * h * 4 // 64
    per_pixel = 1 if im.mode in {"1", "L", "P"} else 2 if im.mode.startswith("I;16") else 4
    return w * h * per_pixel

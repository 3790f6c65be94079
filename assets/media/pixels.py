"""Decode the picture before the paid call: `decoded_picture(path, facts, side)`.

Intake checks structure, and decodes a picture only when that fits the web worker's memory
(`bounds.WEB_DECODE_BYTES`); HEIC images, larger pictures and the frames of a video are decoded
here, in the worker, just before the upstream call (see `bounds` for why here and not in a child
process). A file with an intact index around random picture data passes every structural check,
and the upstream would take the paid call before failing it, so a picture that can't be decoded
raises MediaError and the asset is refused without being sent.

For a video, every key frame the index lists is decoded (at most `MAX_KEY_FRAMES`, spread over
the file): each one stands alone, so that is where random or overwritten data shows, for ~15 ms
a 1080p frame, where decoding every frame would cost seconds. FFmpeg's parser drops the key-frame
mark of a packet that isn't a picture, so a key frame that doesn't decode, or isn't one any
more, makes the count fall short of the index's.

The same decoded picture, upright and scaled down, is what the face pre-check looks at.
"""

from __future__ import annotations

import logging
import math
import struct
from pathlib import Path

import av
import av.container
import pillow_heif
from PIL import Image, ImageOps

from assets.media.av_probe import QUICK_OPEN
from assets.media.facts import MediaError, MediaFacts, ProblemCode
from assets.media.sniff import display_name

pillow_heif.register_heif_opener()
logger = logging.getLogger(__name__)

MAX_KEY_FRAMES = 60
_PIL_FORMAT = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF", "HEIC": "HEIF"}
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    RuntimeError,
    struct.error,
    IndexError,
    TypeError,
    av.FFmpegError,
)


def decoded_picture(path: Path, facts: MediaFacts, side: int) -> Image.Image:
    """The picture as a person sees it (rotation applied), RGB, at most `side` px long, after
    every pixel of it (every key frame of a video) was decoded. Raises MediaError when the
    picture can't be decoded."""
    try:
        if facts.kind == "video":
            image = _video_picture(path, facts, side)
        else:
            image = _image_picture(path, facts, side)
    except MediaError:
        raise
    except _DECODE_ERRORS as exc:
        logger.info("decoding %s failed: %s", path.name, exc)
        raise _undecodable(facts) from None
    image.thumbnail((side, side))
    return image


def _undecodable(facts: MediaFacts) -> MediaError:
    name = display_name(facts.format)
    what = "video's frames" if facts.kind == "video" else "image's picture"
    return MediaError(
        ProblemCode.CORRUPT,
        f"The {name} {what} can't be decoded: the file is damaged, although its structure "
        "looks intact. It was not sent; export it again from the app that made it.",
    )


def _image_picture(path: Path, facts: MediaFacts, side: int) -> Image.Image:
    factory, _accept = Image.OPEN[_PIL_FORMAT[facts.format]]
    with path.open("rb") as fp, factory(fp, path.name) as im:
        if facts.format == "JPEG":
            im.draft("RGB", (side, side))  # DCT-domain downscale: ~10× cheaper than full
        # Other formats decode in full; HEIC is the costly one (~0.9 s, ~100 MB for 12 MP).
        im.load()
        return ImageOps.exif_transpose(im).convert("RGB")


def _video_picture(path: Path, facts: MediaFacts, side: int) -> Image.Image:
    """Decode the key frames; the one at or before one second in (past fade-ins, at most half
    the video) is the picture returned, turned upright by the track's rotation."""
    at = min(1.0, (facts.duration_s or 0.0) / 2)
    listed = facts.key_frames or 0
    step = max(1, math.ceil(listed / MAX_KEY_FRAMES))
    expected = math.ceil(listed / step)
    with av.open(str(path), options=QUICK_OPEN) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        base = stream.time_base
        keys = decoded = 0
        chosen: av.VideoFrame | None = None
        for packet in container.demux(stream):
            if packet.pts is None or not packet.is_keyframe:
                continue
            keys += 1
            if (keys - 1) % step:
                continue
            for frame in packet.decode():
                decoded += 1
                if chosen is None or (base and frame.pts is not None and frame.pts * base <= at):
                    chosen = frame
        for frame in stream.codec_context.decode(None):
            decoded += 1
            chosen = chosen or frame
    if chosen is None or decoded < expected:
        logger.info("%s: %d of %d key frames decoded", path.name, decoded, expected)
        raise _undecodable(facts)
    scale = min(1.0, side / max(chosen.width, chosen.height))
    # Scaled while converting to RGB: cheaper than converting 2 megapixels, then shrinking.
    image = chosen.to_image(
        width=max(1, round(chosen.width * scale)), height=max(1, round(chosen.height * scale))
    )
    turns = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180}
    turns[270] = Image.Transpose.ROTATE_90  # PIL's ROTATE_n turns counter-clockwise
    return image.transpose(turns[facts.rotation]) if facts.rotation in turns else image

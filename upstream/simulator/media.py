"""The upstream's media checks (CONTRACT.md §3), applied after an asset is accepted.

An out-of-limit file is never refused by ``CreateAsset``: it gets an Id and later goes ``Failed``
with one of the codes below. Only ``PixelCountTooSmall`` was seen live; the other codes are this
simulator's inventions, named in the same style. Boundaries are inclusive except the image size
(``< 30 MB``, as the contract writes it); "MB" is read as MiB.
"""

from dataclasses import dataclass, field
from io import BytesIO

import av
from PIL import Image
from pillow_heif import register_heif_opener

register_heif_opener()

MIB = 1024 * 1024
PIXEL_RANGES: dict[str, tuple[int, int]] = {
    "narrow": (409_600, 927_408),
    "wide": (407_696, 8_295_044),
}


@dataclass(frozen=True)
class Limits:
    image_formats: frozenset[str] = field(default=frozenset({"JPEG", "PNG", "WEBP", "GIF", "HEIF"}))
    video_formats: frozenset[str] = field(default=frozenset({"mov", "mp4"}))
    audio_formats: frozenset[str] = field(default=frozenset({"mp3", "wav"}))
    image_max_bytes: int = 30 * MIB  # exclusive
    video_max_bytes: int = 50 * MIB
    audio_max_bytes: int = 15 * MIB
    min_side: int = 300
    max_side: int = 6000
    min_aspect: float = 0.4
    max_aspect: float = 2.5
    min_pixels: int = PIXEL_RANGES["wide"][0]
    max_pixels: int = PIXEL_RANGES["wide"][1]
    min_seconds: float = 2.0
    max_seconds: float = 15.0
    min_fps: float = 24.0
    max_fps: float = 60.0


def limits_for(pixel_range: str) -> Limits:
    low, high = PIXEL_RANGES[pixel_range]
    return Limits(min_pixels=low, max_pixels=high)


@dataclass(frozen=True)
class Failure:
    code: str
    message: str


def check(data: bytes, asset_type: str, limits: Limits) -> Failure | None:
    """``None`` when ``data`` passes every check for ``asset_type``, else the first failure."""
    if asset_type == "Image":
        return _check_image(data, limits)
    if asset_type == "Video":
        return _check_video(data, limits)
    return _check_audio(data, limits)


def _unsupported(kind: str) -> Failure:
    return Failure("UnsupportedFormat", f"The file is not a supported {kind} format.")


def _geometry(width: int, height: int, limits: Limits) -> Failure | None:
    if min(width, height) < limits.min_side:
        return Failure("ResolutionTooSmall", f"Each side must be at least {limits.min_side} px.")
    if max(width, height) > limits.max_side:
        return Failure("ResolutionTooLarge", f"Each side must be at most {limits.max_side} px.")
    if not limits.min_aspect <= width / height <= limits.max_aspect:
        return Failure(
            "AspectRatioOutOfRange",
            f"Width/height must be between {limits.min_aspect} and {limits.max_aspect}.",
        )
    return None


def _duration(seconds: float, limits: Limits) -> Failure | None:
    if seconds < limits.min_seconds:
        return Failure("DurationTooShort", f"Duration must be at least {limits.min_seconds:g} s.")
    if seconds > limits.max_seconds:
        return Failure("DurationTooLong", f"Duration must be at most {limits.max_seconds:g} s.")
    return None


def _check_image(data: bytes, limits: Limits) -> Failure | None:
    if len(data) >= limits.image_max_bytes:
        return Failure("FileTooLarge", "Images must be smaller than 30 MB.")
    try:
        with Image.open(BytesIO(data)) as image:
            if image.format not in limits.image_formats:
                return _unsupported("image")
            failure = _geometry(*image.size, limits)
            if failure:
                return failure
            image.load()  # a truncated file only shows on decode
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return _unsupported("image")
    return None


def _container_seconds(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def _check_video(data: bytes, limits: Limits) -> Failure | None:
    if len(data) > limits.video_max_bytes:
        return Failure("FileTooLarge", "Videos must be at most 50 MB.")
    try:
        with av.open(BytesIO(data), "r") as container:
            if not limits.video_formats & set(container.format.name.split(",")):
                return _unsupported("video")
            if not container.streams.video:
                return _unsupported("video")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            seconds = _container_seconds(container, stream)
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
    except (av.FFmpegError, OSError, ValueError):
        return _unsupported("video")
    if not width or not height:
        return _unsupported("video")
    # Rotation metadata swaps width and height; every limit here is symmetric, so it is ignored.
    failure = _geometry(width, height, limits)
    if failure:
        return failure
    pixels = width * height
    if pixels < limits.min_pixels:
        return Failure(
            "PixelCountTooSmall", f"Pixels per frame must be at least {limits.min_pixels}."
        )
    if pixels > limits.max_pixels:
        return Failure(
            "PixelCountTooLarge", f"Pixels per frame must be at most {limits.max_pixels}."
        )
    failure = _duration(seconds, limits)
    if failure:
        return failure
    if not limits.min_fps <= fps <= limits.max_fps:
        return Failure(
            "FrameRateOutOfRange",
            f"Frame rate must be between {limits.min_fps:g} and {limits.max_fps:g} FPS.",
        )
    return None


def _check_audio(data: bytes, limits: Limits) -> Failure | None:
    if len(data) > limits.audio_max_bytes:
        return Failure("FileTooLarge", "Audio must be at most 15 MB.")
    try:
        with av.open(BytesIO(data), "r") as container:
            if not limits.audio_formats & set(container.format.name.split(",")):
                return _unsupported("audio")
            if not container.streams.audio:
                return _unsupported("audio")
            seconds = _container_seconds(container, container.streams.audio[0])
    except (av.FFmpegError, OSError, ValueError):
        return _unsupported("audio")
    return _duration(seconds, limits)

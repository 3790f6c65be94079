"""Upstream media limits (CONTRACT.md §3) as one frozen, configurable value.

Every bound is inclusive: a value equal to a minimum or a maximum passes. The contract does not
say which way the upstream rounds, so where a choice had to be made the default leans strict
(decimal megabytes, see below) so that a file we accept is not refused later by a paid call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# "MB" is ambiguous upstream; 1 MB = 1,000,000 bytes is the smaller reading, so a file that passes
# here passes whichever unit the upstream means.
MB = 1_000_000


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What the upstream accepts. Field names say the unit; all bounds are inclusive."""

    # Images: JPEG/PNG/WebP/GIF/HEIC, size < 30 MB, sides 300–6000 px, W/H 0.4–2.5.
    image_formats: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "GIF", "HEIC"})
    image_max_bytes: int = 30 * MB - 1  # "< 30 MB" as an inclusive bound
    image_min_side_px: int = 300
    image_max_side_px: int = 6000
    image_min_aspect: float = 0.4
    image_max_aspect: float = 2.5
    allow_animated_images: bool = False
    # Above this many pixels an image is refused without being decoded (a decompression bomb).
    # Twice the largest acceptable image, as Pillow does with its own limit.
    image_bomb_pixels: int = 2 * 6000 * 6000

    # Video: MP4/MOV, ≤ 50 MB, sides 300–6000 px, W/H 0.4–2.5, 2–15 s, 24–60 fps.
    video_formats: frozenset[str] = frozenset({"MP4", "MOV"})
    video_max_bytes: int = 50 * MB
    video_min_side_px: int = 300
    video_max_side_px: int = 6000
    video_min_aspect: float = 0.4
    video_max_aspect: float = 2.5
    # Pixels per frame. Public clients disagree: one checks 409,600–927,408, which refuses every
    # 1080p video (2,073,600 px) although phones record 1080p by default; the other checks
    # 407,696–8,295,044 and saw a live `PixelCountTooSmall` at 406×720 (292,320 px), which both
    # ranges explain. We default to the wide range; narrow it with MEDIA_LIMITS if the upstream
    # turns out to enforce the narrow one.
    video_min_pixels: int = 407_696
    video_max_pixels: int = 8_295_044
    video_min_duration_s: float = 2.0
    video_max_duration_s: float = 15.0
    video_min_fps: float = 24.0
    video_max_fps: float = 60.0
    # NTSC-derived rates (23.976 = 24000/1001, 59.94) are what cameras record when they say
    # "24" or "60"; a strict bound would refuse common footage.
    video_fps_tolerance: float = 0.05

    # Audio: MP3/WAV, ≤ 15 MB, 2–15 s.
    audio_formats: frozenset[str] = frozenset({"MP3", "WAV"})
    audio_max_bytes: int = 15 * MB
    audio_min_duration_s: float = 2.0
    audio_max_duration_s: float = 15.0

    @classmethod
    def from_settings(cls) -> MediaLimits:
        """Defaults overridden by the Django setting `MEDIA_LIMITS` (a dict of field → value).

        Values may be strings (they usually come from environment variables); sets accept a list
        or a comma-separated string. An unknown name or a value of the wrong kind raises
        `ImproperlyConfigured`: a typo in a limit must not silently fall back to the default.
        """
        from django.conf import settings

        return cls.from_mapping(getattr(settings, "MEDIA_LIMITS", {}) or {})

    @classmethod
    def from_mapping(cls, overrides: Mapping[str, Any]) -> MediaLimits:
        """Defaults overridden by `overrides`; see `from_settings` for the accepted forms."""
        defaults = cls()
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, raw in overrides.items():
            if name not in known:
                raise ImproperlyConfigured(f"MEDIA_LIMITS: unknown limit {name!r}")
            try:
                values[name] = _coerce(getattr(defaults, name), raw)
            except (TypeError, ValueError) as exc:
                raise ImproperlyConfigured(f"MEDIA_LIMITS[{name!r}]: {exc}") from exc
        return dataclasses.replace(defaults, **values)


def exact(value: float) -> Fraction:
    """The decimal a person wrote (0.4), not its binary approximation, for inclusive bounds."""
    return Fraction(str(value))


def _coerce(default: object, raw: object) -> object:
    # Dispatch on the default's type: `bool` before `int`, as bool is a subclass of int.
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"expected a yes/no value, got {raw!r}")
    if isinstance(default, int):
        if isinstance(raw, str):
            return int(raw.strip().replace("_", ""))
        if isinstance(raw, int) or (isinstance(raw, float) and raw.is_integer()):
            return int(raw)
        raise ValueError(f"expected a whole number, got {raw!r}")
    if isinstance(default, float):
        if isinstance(raw, str | int | float):
            return float(raw)
        raise ValueError(f"expected a number, got {raw!r}")
    if isinstance(default, frozenset):
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple | set | frozenset):
            raise ValueError(f"expected a list of names, got {raw!r}")
        return frozenset(str(item).strip().upper() for item in items if str(item).strip())
    raise TypeError(f"unsupported limit type {type(default).__name__}")

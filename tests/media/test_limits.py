from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ImproperlyConfigured

from assets.media import MediaFacts, MediaLimits, ProblemCode, check


def test_defaults_follow_the_contract_table() -> None:
    limits = MediaLimits()
    assert limits.image_formats == {"JPEG", "PNG", "WEBP", "GIF", "HEIC"}
    assert limits.video_formats == {"MP4", "MOV"}
    assert limits.audio_formats == {"MP3", "WAV"}
    assert (limits.image_min_side_px, limits.image_max_side_px) == (300, 6000)
    assert (limits.video_min_pixels, limits.video_max_pixels) == (407_696, 8_295_044)
    assert (limits.video_min_fps, limits.video_max_fps) == (24, 60)
    assert (limits.audio_min_duration_s, limits.audio_max_duration_s) == (2, 15)
    assert limits.image_max_bytes == 29_999_999  # "< 30 MB", as an inclusive bound
    assert limits.allow_animated_images is False


def test_settings_override_the_defaults(settings: object) -> None:
    settings.MEDIA_LIMITS = {  # type: ignore[attr-defined]
        "video_min_pixels": "409600",
        "video_max_pixels": 927_408,
        "video_max_duration_s": "30",
        "allow_animated_images": "true",
        "image_formats": "jpeg, png",
    }
    limits = MediaLimits.from_settings()
    assert (limits.video_min_pixels, limits.video_max_pixels) == (409_600, 927_408)
    assert limits.video_max_duration_s == 30.0
    assert limits.allow_animated_images is True
    assert limits.image_formats == {"JPEG", "PNG"}


def test_without_the_setting_the_defaults_apply(settings: object) -> None:
    if hasattr(settings, "MEDIA_LIMITS"):
        del settings.MEDIA_LIMITS
    assert MediaLimits.from_settings() == MediaLimits()


@pytest.mark.parametrize(
    "overrides",
    [{"video_max_secs": 10}, {"video_min_fps": "fast"}, {"allow_animated_images": "maybe"}],
)
def test_a_bad_override_is_a_configuration_error(overrides: dict[str, object]) -> None:
    with pytest.raises(ImproperlyConfigured):
        MediaLimits.from_mapping(overrides)


VIDEO = MediaFacts(
    kind="video",
    mime="video/mp4",
    format="MP4",
    size_bytes=1_000_000,
    width=720,
    height=1280,
    duration_s=10.0,
    fps=30.0,
)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"fps": 23.976}, None),
        ({"fps": 23.95}, None),  # within the 0.05 tolerance
        ({"fps": 23.94}, ProblemCode.FRAME_RATE_TOO_LOW),
        ({"fps": 60.05}, None),
        ({"fps": 60.06}, ProblemCode.FRAME_RATE_TOO_HIGH),
        ({"duration_s": 2.0}, None),
        ({"duration_s": 15.0}, None),
        ({"duration_s": 15.001}, ProblemCode.TOO_LONG),
        ({"size_bytes": 50_000_000}, None),
        ({"size_bytes": 50_000_001}, ProblemCode.FILE_TOO_LARGE),
        ({"width": 6000, "height": 2400}, ProblemCode.PIXEL_COUNT_TOO_LARGE),
        ({"width": 2880, "height": 2880}, None),  # 8,294,400 px
        ({"width": 300, "height": 750}, ProblemCode.PIXEL_COUNT_TOO_SMALL),
    ],
)
def test_video_checks_at_their_edges(change: dict[str, object], code: ProblemCode | None):
    problems = check(dataclasses.replace(VIDEO, **change), MediaLimits())  # type: ignore[arg-type]
    assert [p.code for p in problems] == ([code] if code else [])


def test_a_long_video_message_has_the_numbers() -> None:
    problems = check(dataclasses.replace(VIDEO, duration_s=18.2), MediaLimits())
    assert [p.message for p in problems] == ["Video is 18.2 s long; the limit is 15 s."]


def test_a_large_image_message_has_the_numbers() -> None:
    image = MediaFacts(
        kind="image", mime="image/png", format="PNG", size_bytes=31_200_000, width=640, height=480
    )
    assert [p.message for p in check(image, MediaLimits())] == [
        "Image file is 31.2 MB; it must be under 30 MB."
    ]

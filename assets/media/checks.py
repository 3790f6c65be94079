"""Judge measured facts against the limits, in words a person can act on.

`inspect(path, original_name=…, limits=…)` is the one entry point for intake: it never raises
for bad input; everything wrong with the file comes back as `Problem`s. Errors block forwarding
(the upstream would accept the file and fail it later, after a paid call); warnings don't.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from assets.media.facts import MediaError, MediaFacts, Problem, ProblemCode
from assets.media.limits import MediaLimits, exact
from assets.media.probe import probe
from assets.media.sniff import EXTENSIONS, display_name

logger = logging.getLogger(__name__)

_NOUN = {"image": "Image", "video": "Video", "audio": "Sound file"}


@dataclass(frozen=True, slots=True)
class Inspection:
    """Result of `inspect`: facts when the file could be measured, and every problem found."""

    facts: MediaFacts | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when nothing blocks forwarding (warnings may remain)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def as_dict(self) -> dict[str, Any]:
        return {
            "facts": self.facts.as_dict() if self.facts else None,
            "problems": [p.as_dict() for p in self.problems],
        }


def inspect(path: Path, *, original_name: str | None, limits: MediaLimits) -> Inspection:
    """Probe and check the file at `path`. Never raises for bad input.

    `original_name` is the uploader's file name; its extension is compared with the content
    (a mismatch is a warning: the content decides). An unexpected failure inside a parser is
    logged and reported as an unreadable file rather than propagated.
    """
    try:
        facts = probe(path, limits=limits)
    except MediaError as exc:
        return Inspection(None, (exc.problem,))
    except Exception:
        logger.exception("media probe failed unexpectedly for %s", path)
        problem = Problem(ProblemCode.CORRUPT, "The file could not be read; it may be damaged.")
        return Inspection(None, (problem,))
    problems = _extension_problems(facts, original_name) + check(facts, limits)
    return Inspection(facts, tuple(problems))


def check(facts: MediaFacts, limits: MediaLimits) -> list[Problem]:
    """Every problem with `facts` under `limits`: what the file hides first, then format, size,
    geometry and time, each with the numbers a person needs to fix it."""
    problems = _content_problems(facts)
    if facts.kind == "image":
        problems += _image_problems(facts, limits)
    elif facts.kind == "video":
        problems += _video_problems(facts, limits)
    else:
        problems += _audio_problems(facts, limits)
    return problems


def _extension_problems(facts: MediaFacts, original_name: str | None) -> list[Problem]:
    suffix = PurePath(original_name or "").suffix.lower().lstrip(".")
    if not suffix or suffix in EXTENSIONS.get(facts.format, frozenset()):
        return []
    kind = "sound file" if facts.kind == "audio" else facts.kind
    name = display_name(facts.format)
    return [
        Problem(
            ProblemCode.EXTENSION_MISMATCH,
            f"The file is named “{PurePath(original_name or '').name}” but is really a "
            f"{name} {kind}; it is treated as {name}.",
            "warning",
        )
    ]


def _content_problems(facts: MediaFacts) -> list[Problem]:
    problems = []
    kind = "sound file" if facts.kind == "audio" else facts.kind
    if facts.embedded:
        problems.append(
            Problem(
                ProblemCode.POLYGLOT,
                f"This {display_name(facts.format)} {kind} also contains a hidden "
                f"{' and a '.join(facts.embedded)}; upload a plain {kind} "
                "(re-export it from a photo, video or sound app).",
            )
        )
    if facts.trailing_bytes > 0:
        problems.append(
            Problem(
                ProblemCode.TRAILING_DATA,
                f"The {display_name(facts.format)} {kind} has {facts.trailing_bytes:,} bytes of extra "
                "data after its end.",
                "warning",
            )
        )
    return problems


def _format_problem(facts: MediaFacts, allowed: frozenset[str]) -> list[Problem]:
    if facts.format in allowed:
        return []
    names = ", ".join(sorted(display_name(f) for f in allowed)) or "none"
    noun = {"image": "images", "video": "videos", "audio": "sound files"}[facts.kind]
    return [
        Problem(
            ProblemCode.FORMAT_NOT_ALLOWED,
            f"{display_name(facts.format)} {noun} are not accepted; accepted formats: {names}.",
        )
    ]


def _mb(n: int) -> str:
    if n < 1_000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1_000:.0f} KB"
    return f"{n / 1_000_000:.1f}".removesuffix(".0") + " MB"


def _num(value: float, limit: float, unit: str = "") -> str:
    """`value` with just enough decimals not to look equal to `limit` (15.04 s, not 15.0 s)."""
    text = f"{value:.1f}"
    for places in (2, 3, 4):
        if float(text) != limit:
            break
        text = f"{value:.{places}f}"
    return text.removesuffix(".0") + unit


def _size_problem(facts: MediaFacts, limit: int) -> list[Problem]:
    if facts.size_bytes <= limit:
        return []
    noun = _NOUN[facts.kind]
    shown = _mb(limit + 1) if limit % 1_000_000 == 999_999 else _mb(limit)
    under = "under " if limit % 1_000_000 == 999_999 else "at most "
    return [
        Problem(
            ProblemCode.FILE_TOO_LARGE,
            f"{noun} file is {_mb(facts.size_bytes)}; it must be {under}{shown}.",
        )
    ]


def _geometry_problems(
    facts: MediaFacts, min_side: int, max_side: int, min_aspect: float, max_aspect: float
) -> list[Problem]:
    w, h = facts.width or 0, facts.height or 0
    noun = _NOUN[facts.kind]
    problems = []
    if min(w, h) < min_side:
        problems.append(
            Problem(
                ProblemCode.SIDE_TOO_SHORT,
                f"{noun} is {w}×{h} px; each side must be at least {min_side} px.",
            )
        )
    if max(w, h) > max_side:
        problems.append(
            Problem(
                ProblemCode.SIDE_TOO_LONG,
                f"{noun} is {w}×{h} px; each side must be at most {max_side} px.",
            )
        )
    if h and not exact(min_aspect) <= exact(w) / h <= exact(max_aspect):
        problems.append(
            Problem(
                ProblemCode.ASPECT_RATIO,
                f"{noun} is {w}×{h} px (width ÷ height = {w / h:.2f}); the ratio must be "
                f"between {min_aspect:g} and {max_aspect:g}.",
            )
        )
    return problems


def _image_problems(facts: MediaFacts, limits: MediaLimits) -> list[Problem]:
    problems = _format_problem(facts, limits.image_formats)
    problems += _size_problem(facts, limits.image_max_bytes)
    stored = (facts.stored_width or 0) * (facts.stored_height or 0)
    if stored > limits.image_bomb_pixels:
        problems.append(
            Problem(
                ProblemCode.DECOMPRESSION_BOMB,
                f"Image claims {facts.width}×{facts.height} px ({stored / 1e6:.0f} megapixels) "
                f"in a {_mb(facts.size_bytes)} file; images over "
                f"{limits.image_bomb_pixels / 1e6:.0f} megapixels are refused unopened.",
            )
        )
        return problems
    problems += _geometry_problems(
        facts,
        limits.image_min_side_px,
        limits.image_max_side_px,
        limits.image_min_aspect,
        limits.image_max_aspect,
    )
    if facts.animated and not limits.allow_animated_images:
        problems.append(
            Problem(
                ProblemCode.ANIMATED_IMAGE,
                f"The {display_name(facts.format)} image has {facts.frame_count} frames; only a single "
                "still picture is accepted.",
            )
        )
    return problems


def _video_problems(facts: MediaFacts, limits: MediaLimits) -> list[Problem]:
    problems = _format_problem(facts, limits.video_formats)
    problems += _size_problem(facts, limits.video_max_bytes)
    problems += _geometry_problems(
        facts,
        limits.video_min_side_px,
        limits.video_max_side_px,
        limits.video_min_aspect,
        limits.video_max_aspect,
    )
    w, h, pixels = facts.width or 0, facts.height or 0, facts.pixels or 0
    if pixels < limits.video_min_pixels:
        problems.append(
            Problem(
                ProblemCode.PIXEL_COUNT_TOO_SMALL,
                f"Video frames are {w}×{h} = {pixels:,} pixels; the minimum is "
                f"{limits.video_min_pixels:,} (re-export it at a higher resolution).",
            )
        )
    if pixels > limits.video_max_pixels:
        problems.append(
            Problem(
                ProblemCode.PIXEL_COUNT_TOO_LARGE,
                f"Video frames are {w}×{h} = {pixels:,} pixels; the maximum is "
                f"{limits.video_max_pixels:,}.",
            )
        )
    problems += _duration_problems(facts, limits.video_min_duration_s, limits.video_max_duration_s)
    fps, tol = facts.fps or 0.0, limits.video_fps_tolerance
    if fps < limits.video_min_fps - tol:
        problems.append(
            Problem(
                ProblemCode.FRAME_RATE_TOO_LOW,
                f"Video runs at {_num(fps, limits.video_min_fps)} frames per second; "
                f"it must be at least {limits.video_min_fps:g}.",
            )
        )
    if fps > limits.video_max_fps + tol:
        problems.append(
            Problem(
                ProblemCode.FRAME_RATE_TOO_HIGH,
                f"Video runs at {_num(fps, limits.video_max_fps)} frames per second; "
                f"it must be at most {limits.video_max_fps:g}.",
            )
        )
    return problems


def _audio_problems(facts: MediaFacts, limits: MediaLimits) -> list[Problem]:
    problems = _format_problem(facts, limits.audio_formats)
    problems += _size_problem(facts, limits.audio_max_bytes)
    problems += _duration_problems(facts, limits.audio_min_duration_s, limits.audio_max_duration_s)
    return problems


def _duration_problems(facts: MediaFacts, shortest: float, longest: float) -> list[Problem]:
    seconds = facts.duration_s or 0.0
    noun = _NOUN[facts.kind]
    if seconds < shortest:
        return [
            Problem(
                ProblemCode.TOO_SHORT,
                f"{noun} is {_num(seconds, shortest, ' s')} long; "
                f"it must be at least {shortest:g} s.",
            )
        ]
    if seconds > longest:
        return [
            Problem(
                ProblemCode.TOO_LONG,
                f"{noun} is {_num(seconds, longest, ' s')} long; the limit is {longest:g} s.",
            )
        ]
    return []

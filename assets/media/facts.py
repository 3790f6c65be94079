"""The values the media checks pass around: measured facts, problems, and the probe's error."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

Kind = Literal["image", "video", "audio"]
Severity = Literal["error", "warning"]


class ProblemCode(StrEnum):
    """Stable machine names for problems; the message is for people and may change."""

    EMPTY_FILE = "empty_file"
    UNKNOWN_TYPE = "unknown_type"
    FORMAT_NOT_ALLOWED = "format_not_allowed"
    NOT_COVERED_BY_CONSENT = "not_covered_by_consent"
    EXTENSION_MISMATCH = "extension_mismatch"
    POLYGLOT = "polyglot"
    TRAILING_DATA = "trailing_data"
    DECOMPRESSION_BOMB = "decompression_bomb"
    ANIMATED_IMAGE = "animated_image"
    CORRUPT = "corrupt"
    TRUNCATED = "truncated"
    FILE_TOO_LARGE = "file_too_large"
    SIDE_TOO_SHORT = "side_too_short"
    SIDE_TOO_LONG = "side_too_long"
    ASPECT_RATIO = "aspect_ratio"
    # Named after the upstream's own rejection code (CONTRACT.md §1) so logs line up.
    PIXEL_COUNT_TOO_SMALL = "pixel_count_too_small"
    PIXEL_COUNT_TOO_LARGE = "pixel_count_too_large"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    FRAME_RATE_TOO_LOW = "frame_rate_too_low"
    FRAME_RATE_TOO_HIGH = "frame_rate_too_high"
    NO_VIDEO_TRACK = "no_video_track"
    # Face pre-check (warnings only: the upstream makes the real decision).
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    FACE_NOT_FRONTAL = "face_not_frontal"
    FACE_TILTED = "face_tilted"
    BLURRY = "blurry"
    FACE_CHECK_UNAVAILABLE = "face_check_unavailable"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file, in words a person can act on ("…; the limit is 15 s.")."""

    code: ProblemCode
    message: str
    severity: Severity = "error"

    def as_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message, "severity": self.severity}


class MediaError(Exception):
    """Raised by the probe when a file cannot be measured; carries the problem to report."""

    def __init__(self, code: ProblemCode, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(code, message)


# (clockwise turn, mirrored) -> EXIF orientation; probe.py reads it the other way.
_EXIF_ORIENTATION = {
    (0, False): 1,
    (0, True): 2,
    (180, False): 3,
    (180, True): 4,
    (270, True): 5,
    (90, False): 6,
    (90, True): 7,
    (270, False): 8,
}


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What the probe measured. Width and height are as displayed, i.e. after rotation.

    `rotation` is the clockwise turn (0/90/180/270) a viewer applies to the stored picture
    (EXIF orientation for images, the track matrix for video); `stored_width`/`stored_height`
    are the encoded dimensions before it. `duration_s` is the true duration from walking the
    packets, not the header's claim (`declared_duration_s`). `trailing_bytes` counts bytes after
    the format's logical end; `embedded` names foreign formats found inside the file.
    """

    kind: Kind
    mime: str
    format: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    stored_width: int | None = None
    stored_height: int | None = None
    rotation: int = 0
    mirrored: bool = False
    duration_s: float | None = None
    declared_duration_s: float | None = None
    fps: float | None = None
    frame_count: int | None = None
    key_frames: int | None = None  # video: key frames the index lists (each decoded by pixels.py)
    animated: bool = False
    codec: str | None = None
    has_audio: bool = False
    sample_rate: int | None = None
    channels: int | None = None
    trailing_bytes: int = 0
    embedded: tuple[str, ...] = ()
    decoded: bool = False  # whether an integrity decode ran (it is skipped for bombs)

    @property
    def orientation(self) -> int:
        """The EXIF orientation (1–8) that gives `rotation` and `mirrored`."""
        return _EXIF_ORIENTATION.get((self.rotation, self.mirrored), 1)

    @property
    def pixels(self) -> int | None:
        if self.width is None or self.height is None:
            return None
        return self.width * self.height

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["embedded"] = list(self.embedded)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaFacts:
        """The facts `as_dict` stored (names it doesn't know are ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["embedded"] = tuple(values.get("embedded", ()))
        return cls(**values)

"""Face pre-check: warn early when the upstream's face match is likely to fail. Never blocks.

The upstream compares every image and video with the verified person and fails the asset with
`FaceMismatch` after the paid call. This check catches the usual causes first: no face, several
faces, a face too small, turned or tilted away, or a blurred picture. It only returns warnings
(`Problem(..., severity="warning")`); the upstream makes the real decision.

Detection uses MediaPipe's BlazeFace full-range model shipped in `models/` (Apache-2.0, taken
from the mediapipe 0.10.21 wheel, the last release that bundles it; later releases download
models at run time, which this deployment can't). MediaPipe is imported lazily (~1.2 s, ~110 MB)
and the detector is built once per process; if either is missing the check degrades to one
warning. Only worker processes run it (`assets.services.forward`, before the upstream call), so
web workers never load MediaPipe.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from assets.media.facts import MediaFacts, Problem, ProblemCode
from assets.media.pixels import decoded_picture

MODEL = Path(__file__).parent / "models" / "face_detection_full_range_sparse.tflite"
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FaceRules:
    """Thresholds of the pre-check, tuned on the test photos in tests/media/fixtures."""

    min_score: float = 0.6  # detector confidence for a face to count
    min_face_fraction: float = 0.12  # face box height ÷ picture's shorter side
    max_yaw: float = 0.35  # nose offset from the eyes' midpoint ÷ distance between the eyes
    max_roll_deg: float = 25.0  # angle of the line through the eyes
    min_sharpness: float = 50.0  # variance of the Laplacian over the face, scaled to 128 px
    detect_side_px: int = 800  # pictures are downscaled to this long side before detection


@dataclass(frozen=True, slots=True)
class Face:
    """One detection, in pixels of the analysed (upright, downscaled) picture."""

    score: float
    box: tuple[int, int, int, int]  # x, y, width, height
    yaw: float
    roll_deg: float
    sharpness: float


def face_warnings(
    path: Path,
    facts: MediaFacts,
    *,
    rules: FaceRules | None = None,
    picture: Image.Image | None = None,
) -> list[Problem]:
    """Warnings about the face in an image, or in one frame of a video. Never raises.

    `picture` is the upright picture `assets.media.pixels.decoded_picture` returned, when the
    caller has already decoded it (the worker does, before the upstream call); otherwise it is
    decoded here, and a file that can't be decoded is one more reason for a warning.
    """
    rules = rules or FaceRules()
    if facts.kind not in {"image", "video"}:
        return []
    try:
        if picture is None:
            picture = decoded_picture(path, facts, rules.detect_side_px)
        faces = detect(picture, rules)
    except Exception as exc:  # the check must never stand in the way of an upload
        logger.warning("the face pre-check could not run on %s", path.name, exc_info=True)
        return [
            Problem(
                ProblemCode.FACE_CHECK_UNAVAILABLE,
                f"The face pre-check could not run ({type(exc).__name__}); "
                "the upstream will still check the face.",
                "warning",
            )
        ]
    return judge(faces, picture.size, rules)


_lock = threading.Lock()
_detector: Any = None


def _get_detector() -> Any:
    global _detector
    if _detector is None:
        # Quieten MediaPipe's native start-up logging unless the operator asked for it.
        os.environ.setdefault("GLOG_minloglevel", "2")
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(MODEL)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=0.3,  # filtered by FaceRules.min_score afterwards
        )
        _detector = vision.FaceDetector.create_from_options(options)
        atexit.register(_forget_detector)
    return _detector


def _forget_detector() -> None:
    # By the time atexit runs, MediaPipe's worker pool is shut down and close() (also called by
    # the detector's __del__) raises a noisy error. The process is ending: drop the handle and
    # let the OS reclaim it.
    if _detector is not None:
        _detector._handle = None


def detect(picture: Image.Image, rules: FaceRules | None = None) -> list[Face]:
    """Faces in an upright RGB picture, best first (~5 ms at 800 px on one core)."""
    rules = rules or FaceRules()
    import mediapipe as mp

    pixels = np.ascontiguousarray(np.asarray(picture.convert("RGB")))
    with _lock:  # a detector instance is not safe to call from two threads at once
        result = _get_detector().detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels))
    gray = np.asarray(picture.convert("L"), dtype=np.float32)
    faces = [_face(d, picture.size, gray) for d in result.detections]
    return sorted((f for f in faces if f.score >= rules.min_score), key=lambda f: -f.score)


def _face(detection: Any, size: tuple[int, int], gray: np.ndarray) -> Face:
    w, h = size
    bb = detection.bounding_box
    box = (bb.origin_x, bb.origin_y, bb.width, bb.height)
    points = [(k.x * w, k.y * h) for k in detection.keypoints]
    yaw, roll = pose(points) if len(points) >= 3 else (0.0, 0.0)
    return Face(
        score=float(detection.categories[0].score),
        box=box,
        yaw=yaw,
        roll_deg=roll,
        sharpness=sharpness(gray, box),
    )


def pose(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(yaw, roll in degrees) from BlazeFace keypoints: right eye, left eye, nose tip, ….

    Yaw is how far the nose sits from the eyes' midpoint along the eye line, in units of the eye
    distance: about 0 when facing the camera, past ±0.5 in near profile. Measuring along the eye
    line keeps a tilted but frontal head from reading as turned. Roll is the eye line's angle.
    """
    (rx, ry), (lx, ly), (nx, ny) = points[0], points[1], points[2]
    dx, dy = lx - rx, ly - ry
    eye_distance = math.hypot(dx, dy) or 1.0
    along = (nx - (rx + lx) / 2) * dx + (ny - (ry + ly) / 2) * dy
    return along / eye_distance**2, math.degrees(math.atan2(dy, dx))


def sharpness(gray: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Variance of the Laplacian over the face, resampled to 128 px so scale doesn't matter."""
    x, y, w, h = box
    crop = gray[max(0, y) : max(0, y) + h, max(0, x) : max(0, x) + w]
    if crop.size == 0:
        return 0.0
    face = np.asarray(Image.fromarray(crop).resize((128, 128), Image.Resampling.BILINEAR))
    laplacian = (
        face[:-2, 1:-1] + face[2:, 1:-1] + face[1:-1, :-2] + face[1:-1, 2:] - 4 * face[1:-1, 1:-1]
    )
    return float(laplacian.var())


def judge(faces: list[Face], size: tuple[int, int], rules: FaceRules) -> list[Problem]:
    """Warnings for a list of detections in a picture of `size` (width, height)."""

    def warn(code: ProblemCode, message: str) -> list[Problem]:
        return [Problem(code, message, "warning")]

    if not faces:
        return warn(
            ProblemCode.NO_FACE,
            "No face was found; the picture must show the verified person's face clearly "
            "and upright.",
        )
    if len(faces) > 1:
        return warn(
            ProblemCode.SEVERAL_FACES,
            f"{len(faces)} faces were found; the picture must show only the verified person.",
        )
    face, problems = faces[0], []
    fraction = face.box[3] / min(size)
    if fraction < rules.min_face_fraction:
        problems += warn(
            ProblemCode.FACE_TOO_SMALL,
            f"The face fills {fraction:.0%} of the picture's shorter side; it should fill at least "
            f"{rules.min_face_fraction:.0%} (move closer or crop).",
        )
    if abs(face.yaw) > rules.max_yaw:
        problems += warn(
            ProblemCode.FACE_NOT_FRONTAL,
            "The face is turned to the side; the person should look straight at the camera.",
        )
    if abs(face.roll_deg) > rules.max_roll_deg:
        problems += warn(
            ProblemCode.FACE_TILTED,
            f"The head is tilted by about {abs(face.roll_deg):.0f}°; "
            f"it should be within {rules.max_roll_deg:.0f}° of upright.",
        )
    if face.sharpness < rules.min_sharpness:
        problems += warn(
            ProblemCode.BLURRY,
            f"The face looks blurred (sharpness {face.sharpness:.0f}, at least "
            f"{rules.min_sharpness:.0f} expected); use a sharper picture.",
        )
    return problems

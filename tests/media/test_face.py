from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFilter

pytest.importorskip("mediapipe", reason="the face pre-check needs mediapipe")

from assets.media import ProblemCode, probe
from assets.media.face import Face, FaceRules, face_warnings, judge, pose

from .conftest import GRACE, Media, exif_bytes


def warning_codes(path: Path) -> list[ProblemCode]:
    problems = face_warnings(path, probe(path))
    assert all(p.severity == "warning" for p in problems)
    return [p.code for p in problems]


def saved(media: Media, name: str, picture: Image.Image, **options: Any) -> Path:
    path = media.root / "raw" / name
    path.parent.mkdir(exist_ok=True)
    picture.save(path, **options)
    return path


def grace() -> Image.Image:
    with Image.open(GRACE) as im:
        return im.convert("RGB")


def test_a_clear_frontal_portrait_passes() -> None:
    assert warning_codes(GRACE) == []


def test_a_sideways_photo_with_exif_orientation_is_seen_upright(media: Media) -> None:
    # Stored turned a quarter anticlockwise, with orientation 6 telling viewers to turn it back.
    stored = grace().transpose(Image.Transpose.ROTATE_90)
    path = saved(media, "sideways.jpg", stored, exif=exif_bytes(orientation=6), quality=95)
    assert warning_codes(path) == []
    without_tag = saved(media, "sideways-no-tag.jpg", stored, quality=95)
    assert warning_codes(without_tag) == [ProblemCode.NO_FACE]


def test_a_blurred_portrait_is_flagged(media: Media) -> None:
    path = saved(media, "blurred.png", grace().filter(ImageFilter.GaussianBlur(4)))
    assert warning_codes(path) == [ProblemCode.BLURRY]


def test_two_people_are_flagged(media: Media) -> None:
    pair = Image.new("RGB", (1100, 600), (128, 128, 128))
    pair.paste(grace(), (0, 0))
    pair.paste(grace(), (560, 0))
    assert warning_codes(saved(media, "pair.png", pair)) == [ProblemCode.SEVERAL_FACES]


def test_no_face_is_flagged(media: Media) -> None:
    path = media.image((640, 480), "PNG")
    assert warning_codes(path) == [ProblemCode.NO_FACE]


def test_a_small_face_is_flagged(media: Media) -> None:
    scene = Image.new("RGB", (1200, 1200), (128, 128, 128))
    scene.paste(grace().resize((256, 300)), (400, 400))
    problems = face_warnings(path := saved(media, "small.png", scene), probe(path))
    assert [p.code for p in problems] == [ProblemCode.FACE_TOO_SMALL]
    assert "of the picture's shorter side; it should fill at least 12%" in problems[0].message


def test_a_tilted_head_is_flagged(media: Media) -> None:
    tilted = grace().rotate(35, expand=True, fillcolor=(128, 128, 128))
    assert warning_codes(saved(media, "tilted.png", tilted)) == [ProblemCode.FACE_TILTED]


def test_a_video_frame_is_checked_upright(media: Media) -> None:
    # Encoded sideways with a display matrix that turns it back, as phones record portrait.
    sideways = saved(media, "grace-sideways.png", grace().transpose(Image.Transpose.ROTATE_90))
    path = media.video((640, 544), picture=sideways, rotation=-90, seconds=2)
    assert probe(path).height == 640
    assert warning_codes(path) == []


def test_sound_files_are_not_face_checked(media: Media) -> None:
    path = media.wav(2.5)
    assert face_warnings(path, probe(path)) == []


def test_the_check_degrades_to_one_warning_when_it_cannot_run(media: Media) -> None:
    facts = dataclasses.replace(probe(GRACE), format="PNG")
    problems = face_warnings(media.write("not-a-picture.png", b"junk"), facts)
    assert [p.code for p in problems] == [ProblemCode.FACE_CHECK_UNAVAILABLE]


def test_yaw_reads_turned_heads_and_ignores_roll() -> None:
    frontal = [(100.0, 100.0), (160.0, 100.0), (130.0, 130.0)]
    assert pose(frontal) == pytest.approx((0.0, 0.0))
    turned = [(100.0, 100.0), (160.0, 100.0), (160.0, 130.0)]
    assert pose(turned)[0] == pytest.approx(0.5)
    rolled = [(100.0, 100.0), (130.0, 130.0), (100.0, 130.0)]  # 45° tilt, nose centred
    assert pose(rolled) == pytest.approx((0.0, 45.0))


def test_a_turned_face_is_flagged() -> None:
    face = Face(score=0.9, box=(100, 100, 200, 200), yaw=0.5, roll_deg=0.0, sharpness=500.0)
    problems = judge([face], (600, 600), FaceRules())
    assert [p.code for p in problems] == [ProblemCode.FACE_NOT_FRONTAL]

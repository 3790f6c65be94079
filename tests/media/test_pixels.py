"""Pictures are decoded before the paid call (assets.media.pixels): HEIC images, pictures too
large for the web worker and the key frames of videos, in the worker. A file whose structure is
intact around random picture data passes intake, and must fail here, with a message."""

from __future__ import annotations

import dataclasses
import struct
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from assets.media import MediaError, MediaLimits, ProblemCode, inspect, probe
from assets.media.pixels import decoded_picture

from . import hostile
from .conftest import GRACE, Media
from .hostile_pictures import heic_with_random_pictures, mp4_with_random_media

SIDE = 800


def accepted(path: Path) -> None:
    result = inspect(path, original_name=path.name, limits=MediaLimits())
    assert result.errors == (), result.errors


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "HEIF"])
def test_every_image_format_decodes(media: Media, fmt: str) -> None:
    path = media.image((1200, 900), fmt)
    picture = decoded_picture(path, probe(path), SIDE)
    assert picture.mode == "RGB" and picture.size == (800, 600)


def test_a_picture_left_to_the_worker_decodes_there(media: Media) -> None:
    path = media.write("rgba16-worker.png", hostile.png_16bit_rgba(3000, 3000))
    facts = probe(path)
    assert facts.decoded is False  # 36 MB decoded: over the web worker's share
    assert decoded_picture(path, facts, SIDE).size == (800, 800)


def test_a_heic_with_random_picture_data_passes_intake_and_fails_here(media: Media) -> None:
    source = media.image((640, 480), "HEIF", suffix="heic")
    path = media.write("random.heic", heic_with_random_pictures(source.read_bytes()))
    accepted(path)  # every box and item is where it should be
    with pytest.raises(MediaError) as caught:
        decoded_picture(path, probe(path), SIDE)
    assert caught.value.problem.code == ProblemCode.CORRUPT
    assert caught.value.problem.message == (
        "The HEIC image's picture can't be decoded: the file is damaged, although its structure "
        "looks intact. It was not sent; export it again from the app that made it."
    )


def test_a_truncated_picture_left_to_the_worker_fails_here(media: Media) -> None:
    # A PNG too large to decode at intake, whose compressed data stops halfway.
    data = hostile.png_16bit_rgba(3000, 3000)
    idat = data.index(b"IDAT")
    (length,) = struct.unpack_from(">I", data, idat - 4)
    broken = (
        data[: idat + 4 + length // 2] + bytes(length - length // 2) + data[idat + 4 + length :]
    )
    path = media.write("half-idat.png", broken)
    facts = probe(path)
    assert facts.decoded is False
    with pytest.raises(MediaError):
        decoded_picture(path, facts, SIDE)


def _video(path: Path, *, seconds: int, gop: int, fps: int = 30) -> Path:
    """H.264 with a key frame every `gop` frames, and AAC sound."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 640, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(gop), "keyint_min": str(gop)}
        still = Image.open(GRACE).convert("RGB").resize((640, 640))
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_image(still.rotate(i % 360))
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_every_key_frame_of_a_video_is_decoded(media: Media, tmp_path: Path) -> None:
    path = _video(tmp_path / "gop.mp4", seconds=3, gop=15)
    facts = probe(path)
    assert facts.key_frames == 6
    picture = decoded_picture(path, facts, SIDE)
    assert picture.size == (640, 640)


@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_a_video_with_random_media_data_passes_intake_and_fails_here(
    media: Media, tmp_path: Path, keep: float
) -> None:
    source = _video(tmp_path / "source.mp4", seconds=3, gop=15)
    path = media.write(f"random-{keep}.mp4", mp4_with_random_media(source.read_bytes(), keep))
    accepted(path)
    with pytest.raises(MediaError) as caught:
        decoded_picture(path, probe(path), SIDE)
    assert caught.value.problem.message.startswith(
        "The MP4 video's frames can't be decoded: the file is damaged"
    )


def test_a_video_with_many_key_frames_is_sampled(media: Media, tmp_path: Path) -> None:
    path = _video(tmp_path / "intra.mp4", seconds=3, gop=1)  # every frame a key frame
    facts = probe(path)
    assert facts.key_frames == 90
    assert decoded_picture(path, facts, SIDE).size == (640, 640)


def test_facts_stored_before_key_frames_were_counted_still_decode(media: Media) -> None:
    path = media.video((640, 640), fps=Fraction(30), seconds=2)
    facts = dataclasses.replace(probe(path), key_frames=None)
    assert decoded_picture(path, facts, SIDE).size == (640, 640)


def test_a_rotated_video_is_decoded_upright(media: Media) -> None:
    path = media.video((640, 360), rotation=90)
    assert decoded_picture(path, probe(path), SIDE).size == (360, 640)

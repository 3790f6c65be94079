"""Small valid media files, drawn in memory (Pillow, PyAV, stdlib wave)."""

import math
import struct
import wave
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw


def portrait(path: Path, size: tuple[int, int] = (640, 800)) -> Path:
    image = Image.new("RGB", size, (200, 170, 150))
    draw = ImageDraw.Draw(image)
    draw.ellipse((170, 150, 470, 550), fill=(230, 200, 180))
    image.save(path, "JPEG", quality=85)
    return path


def video(
    path: Path, *, width: int = 640, height: int = 720, seconds: float = 2.5, fps: int = 24
) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for index in range(round(seconds * fps)):
            image = Image.new("RGB", (width, height), (index * 4 % 256, 120, 160))
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def voice(path: Path, *, seconds: float = 3.0, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = (
            int(8000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(int(seconds * rate))
        )
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path

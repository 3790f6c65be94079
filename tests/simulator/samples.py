"""Media drawn in memory for upload tests."""

import io
import wave
from fractions import Fraction

import av
from PIL import Image


def image(width: int = 640, height: int = 800, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (180, 140, 120)).save(buffer, fmt)
    return buffer.getvalue()


def video(width: int = 640, height: int = 640, seconds: float = 2.0, fps: int = 24) -> bytes:
    """An H.264 MP4 of a flat colour."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        picture = Image.new("RGB", (width, height), (90, 120, 200))
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_image(picture)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


def wav(seconds: float = 3.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x01" * int(seconds * rate))
    return buffer.getvalue()

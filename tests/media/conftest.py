"""Media drawn at test time (Pillow, pillow-heif, PyAV/libx264, libmp3lame), cached per session.

`media` builds a file once per distinct request and hands out its path; tests that damage a
file copy it first (`media.variant`). Files are kept tiny: flat colours compress to almost
nothing, so even a 640×640 fifteen-second video encodes in well under a second.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import zipfile
from array import array
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import pillow_heif
import pytest
from PIL import Image

from assets.media import MediaLimits

pillow_heif.register_heif_opener()

FIXTURES = Path(__file__).parent / "fixtures"
GRACE = FIXTURES / "grace_hopper.jpg"


def exif_bytes(*, orientation: int | None = None, gps: bool = False, device: bool = False) -> bytes:
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if device:
        exif[0x010F] = "AcmeCam"
        exif[0x0110] = "Phone X1"
        exif.get_ifd(0x8769)[0xA431] = "SN-12345678"  # BodySerialNumber
        exif.get_ifd(0x8769)[0xA434] = "Acme 4mm f/1.8"  # LensModel
        exif.get_ifd(0x8769)[0x9003] = "2026:01:02 03:04:05"  # DateTimeOriginal (kept)
    if gps:
        exif.get_ifd(0x8825).update(
            {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0), 0x1D: "2026:01:02"}
        )
    return exif.tobytes()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def audio_frame(samples: list[float], rate: int, pts: int = 0) -> av.AudioFrame:
    """A mono float frame, built without numpy (the library itself doesn't need it)."""
    frame = av.AudioFrame(format="flt", layout="mono", samples=len(samples))
    frame.planes[0].update(array("f", samples).tobytes())
    frame.sample_rate, frame.pts = rate, pts
    return frame


def silence(count: int, rate: int) -> av.AudioFrame:
    return audio_frame([0.0] * count, rate)


class Media:
    """Factory of cached media files under one session directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _cached(self, suffix: str, key: object, build: Callable[[Path], None]) -> Path:
        digest = hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:16]
        path = self.root / f"{digest}.{suffix}"
        if not path.exists():
            build(path)
        return path

    def write(self, name: str, data: bytes) -> Path:
        path = self.root / "raw" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return path

    def variant(self, source: Path, name: str, edit: Callable[[bytes], bytes]) -> Path:
        """A damaged or altered copy of `source`."""
        return self.write(name, edit(source.read_bytes()))

    def image(
        self,
        size: tuple[int, int] = (640, 480),
        fmt: str = "JPEG",
        *,
        exif: bytes = b"",
        frames: int = 1,
        suffix: str | None = None,
        **save: object,
    ) -> Path:
        key = ("image", size, fmt, exif.hex(), frames, sorted(save.items()))

        def build(path: Path) -> None:
            pictures = [
                Image.new("RGB", size, (40 * i % 255, 120, 200 - 30 * i % 200))
                for i in range(frames)
            ]
            extra: dict[str, object] = dict(save)
            if exif:
                extra["exif"] = exif
            if frames > 1:
                extra.update(save_all=True, append_images=pictures[1:], duration=100, loop=0)
            pictures[0].save(path, fmt, **extra)

        return self._cached(suffix or fmt.lower(), key, build)

    def video(
        self,
        size: tuple[int, int] = (640, 640),
        *,
        fps: Fraction | int = 30,
        frames: int | None = None,
        seconds: float = 2.0,
        container: str = "mp4",
        rotation: int = 0,
        audio: bool = False,
        picture: Path | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Path:
        rate = Fraction(fps)
        count = frames if frames is not None else round(seconds * rate)
        key = ("video", size, str(rate), count, container, rotation, audio, str(picture), metadata)

        def build(path: Path) -> None:
            w, h = size
            if picture is not None:
                still = Image.open(picture).convert("RGB").resize((w, h))
            else:
                still = Image.new("RGB", (w, h), (90, 140, 60))
            with av.open(str(path), "w", format=container) as out:
                out.metadata.update(metadata or {})
                stream = out.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
                if rotation:
                    stream.set_display_rotation(rotation)
                sound = out.add_stream("aac", rate=44100) if audio else None
                frame = av.VideoFrame.from_image(still)
                for i in range(count):
                    frame.pts = i
                    out.mux(stream.encode(frame))
                out.mux(stream.encode())
                if sound is not None:
                    out.mux(sound.encode(silence(int(count / rate * 44100), 44100)))
                    out.mux(sound.encode())

        return self._cached(container, key, build)

    def wav(self, seconds: float, *, rate: int = 8000, codec: str = "pcm_s16le") -> Path:
        key = ("wav", seconds, rate, codec)

        def build(path: Path) -> None:
            self._audio(path, "wav", codec, seconds, rate, {})

        return self._cached("wav", key, build)

    def mp3(self, seconds: float, *, bitrate: int = 64000, xing: bool = True) -> Path:
        key = ("mp3", seconds, bitrate, xing)

        def build(path: Path) -> None:
            options = {} if xing else {"write_xing": "0", "id3v2_version": "0"}
            self._audio(path, "mp3", "libmp3lame", seconds, 44100, options, bitrate)

        return self._cached("mp3", key, build)

    @staticmethod
    def _audio(
        path: Path,
        fmt: str,
        codec: str,
        seconds: float,
        rate: int,
        options: dict[str, str],
        bitrate: int | None = None,
    ) -> None:
        with av.open(str(path), "w", format=fmt, options=options) as out:
            stream = out.add_stream(codec, rate=rate, layout="mono")
            assert isinstance(stream, av.AudioStream)
            if bitrate:
                stream.bit_rate = bitrate
            n = round(seconds * rate)
            step = 2 * math.pi * 440 / rate
            for start in range(0, n, 4096):
                samples = [0.3 * math.sin(step * i) for i in range(start, min(n, start + 4096))]
                out.mux(stream.encode(audio_frame(samples, rate, start)))
            out.mux(stream.encode())

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("payload.html", "<html><script>alert(1)</script></html>")
        return buffer.getvalue()


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def limits() -> MediaLimits:
    return MediaLimits()

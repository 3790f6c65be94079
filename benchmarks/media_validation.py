"""Cost of `assets.media.inspect()` against single libraries on the same files.

Generates realistic files once (a 12 MP photo as JPEG and HEIC, a 1080p PNG and WebP, a GIF,
10 s 1080p portrait MP4 and 720p MOV with sound, WAV and MP3), then times, per file, the median
of several runs of:

- `inspect`: the whole intake check (libmagic, structure walk, header parse, integrity decode or
  packet walk, polyglot scan);
- each library on its own: libmagic; Pillow lazy open (header only) and open + full decode;
  PyAV open (header only), open + demux walk, and the same walk with the quick open inspect()
  uses ("PyAV demux*"); mutagen; `ffprobe` (a subprocess, so it includes process start-up;
  skipped when not installed).

"full" is the fastest single library doing the job that actually catches a damaged file (an
image decode, a packet walk); "any" is the fastest column at all, header-only ones included.
The target is inspect ≤ 2× "full".

Run: python -m benchmarks.media_validation [--runs 15]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import magic
import mutagen
import numpy as np
import pillow_heif
from PIL import Image

from assets.media import MediaLimits, inspect

pillow_heif.register_heif_opener()
FULL_JOB = {"Pillow decode", "PyAV demux", "PyAV demux*"}
KINDS = {
    "JPEG": "image",
    "HEIC": "image",
    "PNG": "image",
    "WebP": "image",
    "GIF": "image",
    "MP4": "video",
    "MOV": "video",
    "WAV": "audio",
    "MP3": "audio",
}


def _photo(size: tuple[int, int]) -> Image.Image:
    """Photo-like content: smooth gradients plus sensor noise, so codecs do real work."""
    w, h = size
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], axis=-1)
    noisy = base + rng.normal(0, 12, (h, w, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


def _video(path: Path, size: tuple[int, int], seconds: int, fmt: str) -> None:
    w, h = size
    rng = np.random.default_rng(3)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        sound = out.add_stream("aac", rate=48000, layout="stereo")
        base = np.asarray(_photo((w // 4, h // 4)).resize((w, h)))
        for i in range(seconds * 30):
            shifted = np.roll(base, i * 4, axis=1)
            shifted[: h // 8] = rng.integers(0, 255, (h // 8, w, 3), np.uint8)
            frame = av.VideoFrame.from_ndarray(shifted, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        tone = (rng.normal(0, 0.1, (2, 48000 * seconds))).astype(np.float32)
        chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="stereo")
        chunk.sample_rate, chunk.pts = 48000, 0
        out.mux(sound.encode(chunk))
        out.mux(sound.encode())


def _audio(path: Path, fmt: str, codec: str, seconds: int) -> None:
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=44100, layout="stereo")
        assert isinstance(stream, av.AudioStream)
        if codec == "libmp3lame":
            stream.bit_rate = 128_000
        t = np.arange(44100 * seconds) / 44100
        tone = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]) * 0.3
        for start in range(0, tone.shape[1], 4410):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(tone[:, start : start + 4410], np.float32),
                format="fltp",
                layout="stereo",
            )
            chunk.sample_rate, chunk.pts = 44100, start
            out.mux(stream.encode(chunk))
        out.mux(stream.encode())


def make_files(root: Path) -> dict[str, Path]:
    photo = _photo((4000, 3000))
    screen = _photo((1920, 1080))
    files = {
        "JPEG 12 MP": root / "photo.jpg",
        "HEIC 12 MP": root / "photo.heic",
        "PNG 1080p": root / "screen.png",
        "WebP 1080p": root / "screen.webp",
        "GIF 640×480": root / "small.gif",
        "MP4 1080×1920 10 s": root / "portrait.mp4",
        "MOV 720p 5 s": root / "clip.mov",
        "WAV 10 s": root / "voice.wav",
        "MP3 10 s": root / "voice.mp3",
    }
    photo.save(files["JPEG 12 MP"], quality=90)
    photo.save(files["HEIC 12 MP"], quality=80)
    screen.save(files["PNG 1080p"])
    screen.save(files["WebP 1080p"], quality=85)
    screen.resize((640, 480)).convert("P").save(files["GIF 640×480"])
    _video(files["MP4 1080×1920 10 s"], (1080, 1920), 10, "mp4")
    _video(files["MOV 720p 5 s"], (1280, 720), 5, "mov")
    _audio(files["WAV 10 s"], "wav", "pcm_s16le", 10)
    _audio(files["MP3 10 s"], "mp3", "libmp3lame", 10)
    return files


def _pillow_decode(path: Path) -> None:
    with Image.open(path) as im:
        im.load()


def _pillow_open(path: Path) -> None:
    with Image.open(path) as im:
        _ = im.size


def _pyav_open(path: Path) -> None:
    with av.open(str(path)) as container:
        _ = container.duration


def _pyav_demux(path: Path) -> None:
    with av.open(str(path)) as container:
        for _ in container.demux():
            pass


def _pyav_demux_quick(path: Path) -> None:
    # The same quick open inspect() uses: no stream-info probe (see assets.media.av_probe).
    with av.open(str(path), options={"probesize": "32", "analyzeduration": "0"}) as container:
        for _ in container.demux():
            pass


def _ffprobe(path: Path) -> None:
    subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    )


def contenders(kind: str) -> dict[str, Callable[[Path], object]]:
    limits = MediaLimits()
    runs: dict[str, Callable[[Path], object]] = {
        "inspect": lambda p: inspect(p, original_name=p.name, limits=limits),
        "libmagic": lambda p: magic.from_file(str(p), mime=True),
    }
    if kind == "image":
        runs |= {"Pillow open": _pillow_open, "Pillow decode": _pillow_decode}
    else:
        runs |= {
            "PyAV open": _pyav_open,
            "PyAV demux": _pyav_demux,
            "PyAV demux*": _pyav_demux_quick,
        }
    if kind == "audio":
        runs["mutagen"] = mutagen.File
    if shutil.which("ffprobe") and kind != "image":
        runs["ffprobe"] = _ffprobe
    return runs


def medians_ms(
    runs: dict[str, Callable[[Path], object]], path: Path, repeats: int
) -> dict[str, float]:
    """Median milliseconds per contender. Contenders take turns within each round, so a burst
    of load from elsewhere on the machine hits all of them alike rather than one column. The
    order is shuffled every round: in a fixed order, "PyAV demux*" always ran right after
    "PyAV demux", which had just warmed the same FFmpeg code for it, while whoever followed
    ffprobe (~75 ms of another process) always started with cold CPU caches."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run(path)  # warm caches (page cache, libmagic database, codec tables)
    order = list(runs)
    shuffle = random.Random(len(order) * repeats).shuffle  # the same orders on every run
    for _ in range(repeats):
        shuffle(order)
        for name in order:
            began = time.perf_counter()
            runs[name](path)
            samples[name].append((time.perf_counter() - began) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("generating files…", flush=True)
        files = make_files(Path(tmp))
        header = f"{'file':<20}{'MB':>6}  {'inspect':>8}  {'full':>22}  {'any':>20}  ratios"
        print(header)
        details = []
        for label, path in files.items():
            kind = KINDS[label.split()[0]]
            repeats = max(3, args.runs // 3) if label.startswith("HEIC") else args.runs
            times = medians_ms(contenders(kind), path, repeats)
            ours = times.pop("inspect")
            full = {k: v for k, v in times.items() if k in FULL_JOB}
            full_name = min(full, key=full.__getitem__)
            any_name = min(times, key=times.__getitem__)
            print(
                f"{label:<20}{path.stat().st_size / 1e6:>6.1f}  {ours:>6.1f}ms  "
                f"{full_name:>13} {full[full_name]:>6.1f}ms  "
                f"{any_name:>11} {times[any_name]:>6.2f}ms  "
                f"{ours / full[full_name]:>4.2f}× full, {ours / times[any_name]:>6.1f}× any"
            )
            details.append((label, ours, times))
        if not shutil.which("ffprobe"):
            print("(ffprobe not installed: its column is skipped; apt-get install ffmpeg)")
        print("\nall columns (median ms):")
        for label, ours, times in details:
            cells = "  ".join(f"{name} {value:.2f}" for name, value in times.items())
            print(f"  {label:<20} inspect {ours:.2f}  {cells}")


if __name__ == "__main__":
    main()

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

Then the hostile rows: crafted files, each as large as the upload limits allow, built to make a
check slow or large (floods of empty boxes, chunks, segments and blocks, index tables longer than
their media, a small file that decodes to 288 MB). Each is checked in a fresh process that first
checks an ordinary file of the same type (so imports and codec tables are not counted), and the
row gives the time of `inspect` (median of three) and how far the process's peak memory rose
above that baseline. The budget for every row: < 1 s and < 50 MB.

Run: python -m benchmarks.media_validation [--runs 15] [--only ratios|hostile]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import shutil
import statistics
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import magic
import numpy as np
import pillow_heif
from PIL import Image

from assets.media import MediaLimits, inspect
from tests.media import hostile

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


BUDGET_S, BUDGET_MB = 1.0, 50.0


def _bare_mp3(path: Path, rate: int, bit_rate: int) -> None:
    """Ten seconds of MP3 frames and nothing else: no ID3 tag, no Xing header."""
    options = {"write_xing": "0", "id3v2_version": "0"}
    with av.open(str(path), "w", format="mp3", options=options) as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = bit_rate
        tone = np.sin(np.arange(rate * 10) / rate * 2 * np.pi * 440).astype(np.float32) * 0.3
        frame = av.AudioFrame.from_ndarray(tone[np.newaxis, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode())


def _mp3_of_tiny_frames(base: bytes, size: int) -> bytes:
    """The sound frames of `base` (8 kbit/s at 8 kHz: 72 bytes a frame) repeated to `size`."""
    return (base * (size // len(base) + 1))[:size]


def _id3_frames(sound: bytes, count: int) -> bytes:
    frames = (b"TXXX" + struct.pack(">I", 1) + b"\0\0\0") * count
    return b"ID3\x03\x00\x00" + _syncsafe(len(frames)) + frames + sound


def _id3_padding(sound: bytes, padding: int) -> bytes:
    return b"ID3\x04\x00\x00" + _syncsafe(padding) + bytes(padding) + sound


def _syncsafe(n: int) -> bytes:
    return bytes((n >> shift) & 0x7F for shift in (21, 14, 7, 0))


def make_hostile(root: Path, files: dict[str, Path]) -> dict[str, tuple[Path, Path]]:
    """Crafted file -> (its path, an ordinary file of the same type to warm up with)."""
    small = root / "small"
    small.mkdir()
    ordinary = {
        "mp4": small / "clip.mp4",
        "jpeg": small / "photo.jpg",
        "png": small / "screen.png",
        "gif": small / "small.gif",
        "webp": small / "screen.webp",
        "heic": small / "photo.heic",
        "wav": small / "voice.wav",
        "mp3": small / "voice.mp3",
    }
    picture = _photo((640, 480))
    _video(ordinary["mp4"], (640, 640), 3, "mp4")
    for key, fmt in (("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("heic", "HEIF")):
        picture.save(ordinary[key], fmt)
    picture.convert("P").save(ordinary["gif"])
    _audio(ordinary["wav"], "wav", "pcm_s16le", 3)
    adpcm = small / "adpcm.wav"
    _audio(adpcm, "wav", "adpcm_ms", 3)
    _audio(ordinary["mp3"], "mp3", "libmp3lame", 3)
    tiny, plain = small / "tiny.mp3", small / "plain.mp3"
    _bare_mp3(tiny, 8000, 8000)
    _bare_mp3(plain, 44100, 64000)
    long_video = small / "long.mp4"
    with av.open(str(long_video), "w") as out:
        stream = out.add_stream("libx264", rate=60)
        stream.width, stream.height, stream.pix_fmt = 640, 640, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "600"}
        still = av.VideoFrame.from_ndarray(np.zeros((640, 640, 3), np.uint8), format="rgb24")
        for i in range(60 * 600):
            still.pts = i
            out.mux(stream.encode(still))
        out.mux(stream.encode())

    def read(key: str) -> bytes:
        return ordinary[key].read_bytes()

    crafted: dict[str, tuple[bytes, str]] = {
        "MP4 + 5,000,000 empty boxes": (hostile.mp4_box_flood(read("mp4"), 5_000_000), "mp4"),
        "MP4 stco of 8,000,000": (hostile.mp4_chunk_table(read("mp4"), 8_000_000), "mp4"),
        "MP4 600 s, 36,000 frames": (long_video.read_bytes(), "mp4"),
        "MP4 50,000 metadata items": (hostile.mp4_metadata_flood(read("mp4"), 50_000), "mp4"),
        "WAV 1,800,000 chunks": (hostile.wav_chunk_flood(read("wav"), 1_800_000), "wav"),
        "WAV 30,000 INFO tags": (hostile.wav_info_flood(adpcm.read_bytes(), 30_000), "wav"),
        "WAV ADPCM + 1,800,000 chunks": (
            hostile.wav_chunk_flood(adpcm.read_bytes(), 1_800_000, after=True),
            "wav",
        ),
        "JPEG 7,000,000 comments": (hostile.jpeg_comment_flood(read("jpeg"), 7_000_000), "jpeg"),
        "JPEG 28 MB fill bytes": (hostile.jpeg_fill_flood(read("jpeg"), 28_000_000), "jpeg"),
        "PNG 2,300,000 chunks": (hostile.png_chunk_flood(read("png"), 2_300_000), "png"),
        "PNG 2,300,000 IDATs": (hostile.png_chunk_flood(read("png"), 2_300_000, b"IDAT"), "png"),
        "PNG 6000² 16-bit RGBA": (hostile.png_16bit_rgba(6000, 6000), "png"),
        "GIF 9,000,000 comments": (hostile.gif_comment_flood(read("gif"), 9_000_000), "gif"),
        "WebP 3,500,000 chunks": (hostile.webp_chunk_flood(read("webp"), 3_500_000), "webp"),
        "HEIC 65,535 items": (hostile.heic_item_flood(read("heic"), 65_535), "heic"),
        "MP3 1,300,000 ID3 frames": (_id3_frames(plain.read_bytes(), 1_300_000), "mp3"),
        "MP3 14 MB ID3 padding": (_id3_padding(plain.read_bytes(), 14_000_000), "mp3"),
        "MP3 15 MB of 8 kbit/s": (_mp3_of_tiny_frames(tiny.read_bytes(), 15_000_000), "mp3"),
    }
    rows = {}
    for index, (label, (data, key)) in enumerate(crafted.items()):
        path = root / f"hostile-{index}.{key}"
        path.write_bytes(data)
        rows[label] = (path, ordinary[key])
    progressive = root / "progressive.jpg"
    _photo((6000, 4000)).save(progressive, quality=85, progressive=True)
    rows["JPEG 24 MP progressive"] = (progressive, ordinary["jpeg"])
    rows["JPEG 12 MP (ordinary)"] = (files["JPEG 12 MP"], ordinary["jpeg"])
    rows["HEIC 12 MP (ordinary)"] = (files["HEIC 12 MP"], ordinary["heic"])
    return rows


def _rss_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (the peak) of this process, in KB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def check_cost(path: str, warm: str, repeats: int) -> tuple[float, float, str]:
    """In a fresh process: (median seconds, MB the peak memory rose above the memory in use
    just before, the verdict). The peak is reset first (Linux: 5 into clear_refs), so imports
    and the warm-up don't hide what the check itself takes."""
    limits = MediaLimits()
    inspect(Path(warm), original_name=warm, limits=limits)
    Path("/proc/self/clear_refs").write_text("5")
    baseline = _rss_kb("VmRSS")
    times, verdict = [], ""
    for _ in range(repeats):
        began = time.perf_counter()
        result = inspect(Path(path), original_name=path, limits=limits)
        times.append(time.perf_counter() - began)
        verdict = result.errors[0].code if result.errors else "accepted"
    grown = (_rss_kb("VmHWM") - baseline) / 1024
    return statistics.median(times), grown, str(verdict)


def hostile_rows(root: Path, files: dict[str, Path]) -> bool:
    print("\ngenerating crafted files…", flush=True)
    rows = make_hostile(root, files)
    print(f"{'crafted file':<28}{'MB':>6}  {'inspect':>9}  {'peak +MB':>8}  verdict")
    within = True
    spawn = multiprocessing.get_context("spawn")
    for label, (path, warm) in rows.items():
        with spawn.Pool(1, maxtasksperchild=1) as pool:
            seconds, grown, verdict = pool.apply(check_cost, (str(path), str(warm), 3))
        ok = seconds < BUDGET_S and grown < BUDGET_MB
        within &= ok
        print(
            f"{label:<28}{path.stat().st_size / 1e6:>6.1f}  {seconds * 1000:>7.1f}ms  "
            f"{grown:>8.1f}  {verdict}{'' if ok else '  OVER BUDGET'}",
            flush=True,
        )
    print(f"budget: < {BUDGET_S:g} s and < {BUDGET_MB:g} MB each: {'met' if within else 'NOT met'}")
    return within


def ratio_rows(files: dict[str, Path], runs: int) -> None:
    header = f"{'file':<20}{'MB':>6}  {'inspect':>8}  {'full':>22}  {'any':>20}  ratios"
    print(header)
    details = []
    for label, path in files.items():
        kind = KINDS[label.split()[0]]
        repeats = max(3, runs // 3) if label.startswith("HEIC") else runs
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=["ratios", "hostile"])
    args = parser.parse_args()
    within = True
    with tempfile.TemporaryDirectory() as tmp:
        print("generating files…", flush=True)
        files = make_files(Path(tmp))
        if args.only != "hostile":
            ratio_rows(files, args.runs)
        if args.only != "ratios":
            within = hostile_rows(Path(tmp), files)
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())

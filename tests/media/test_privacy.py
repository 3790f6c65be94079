from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from PIL import Image, PngImagePlugin

from assets.media import MediaLimits, inspect, probe
from assets.media.boxes import top_level_boxes
from assets.media.privacy import MetadataError, strip_location_metadata

from .conftest import Media, box, exif_bytes

IDENTIFYING = (b"AcmeCam", b"Phone X1", b"SN-12345678", b"Acme 4mm")
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.48N"/></rdf:RDF>'
    b'</x:xmpmeta><?xpacket end="w"?>'
)


def stripped(src: Path) -> Path:
    """A scrubbed copy of `src` (which the cached fixtures need to keep as it is)."""
    dst = src.with_name(src.stem + ".clean" + src.suffix)
    shutil.copyfile(src, dst)
    strip_location_metadata(dst)
    return dst


def assert_clean_exif(path: Path) -> None:
    data = path.read_bytes()
    for secret in (*IDENTIFYING, b"48,51.48N"):
        assert secret not in data
    with Image.open(path) as im:
        exif = im.getexif()
        assert 0x8825 not in exif and 0x010F not in exif and 0x0110 not in exif
        assert exif.get_ifd(0x8825) == {}
        assert exif.get_ifd(0x8769).get(0x9003) == "2026:01:02 03:04:05"  # not identifying


def pixels(path: Path) -> bytes:
    with Image.open(path) as im:
        return im.convert("RGB").tobytes()


def scan_data(data: bytes) -> bytes:
    """JPEG from the first start-of-scan marker on: the compressed picture itself."""
    return data[data.index(b"\xff\xda") :]


def test_jpeg_loses_gps_and_device_but_not_pixels_or_orientation(media: Media) -> None:
    exif = exif_bytes(orientation=6, gps=True, device=True)
    src = media.image((640, 480), "JPEG", exif=exif, quality=90)
    src = media.variant(src, "phone.jpg", lambda b: b[:2] + _jpeg_xmp() + b[2:])
    assert b"AcmeCam" in src.read_bytes() and b"48,51.48N" in src.read_bytes()
    dst = stripped(src)
    assert_clean_exif(dst)
    assert scan_data(dst.read_bytes()) == scan_data(src.read_bytes())
    assert pixels(dst) == pixels(src)
    with Image.open(dst) as im:
        assert im.getexif()[0x0112] == 6
    assert probe(dst).rotation == 90


def _jpeg_xmp() -> bytes:
    body = b"http://ns.adobe.com/xap/1.0/\0" + XMP
    return b"\xff\xe1" + struct.pack(">H", 2 + len(body)) + body


def test_jpeg_trailing_pictures_are_dropped(media: Media) -> None:
    src = media.image((640, 480), "JPEG", exif=exif_bytes(gps=True))
    with_tail = media.variant(src, "motion.jpg", lambda b: b + b"\xff\xd8 secondary AcmeCam")
    dst = stripped(with_tail)
    assert dst.read_bytes().endswith(b"\xff\xd9")
    assert b"AcmeCam" not in dst.read_bytes()
    assert inspect(dst, original_name="x.jpg", limits=MediaLimits()).problems == ()


def test_png_exif_and_xmp_are_scrubbed_without_touching_pixels(media: Media) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add_text("Comment", "kept")
    src = media.image((640, 480), "PNG", exif=exif_bytes(gps=True, device=True), pnginfo=info)
    dst = stripped(src)
    assert_clean_exif(dst)
    assert pixels(dst) == pixels(src)
    with Image.open(dst) as im:
        assert isinstance(im, PngImagePlugin.PngImageFile)
        assert im.text == {"Comment": "kept"}


def test_webp_exif_and_xmp_are_scrubbed(media: Media) -> None:
    exif = exif_bytes(orientation=3, gps=True, device=True)
    src = media.image((640, 480), "WEBP", exif=exif, xmp=XMP, lossless=True)
    dst = stripped(src)
    assert_clean_exif(dst)
    assert pixels(dst) == pixels(src)
    with Image.open(dst) as im:
        assert im.getexif()[0x0112] == 3
    assert inspect(dst, original_name="x.webp", limits=MediaLimits()).ok


def test_heic_exif_is_scrubbed_in_place(media: Media) -> None:
    src = media.image((640, 480), "HEIF", exif=exif_bytes(gps=True, device=True), xmp=XMP)
    dst = stripped(src)
    assert dst.stat().st_size == src.stat().st_size
    assert_clean_exif(dst)
    assert pixels(dst) == pixels(src)


def _qt_string(kind: bytes, text: bytes) -> bytes:
    return box(kind, struct.pack(">HH", len(text), 0x15C7) + text)


def _apple_meta() -> bytes:
    keys = [b"com.apple.quicktime.location.ISO6709", b"com.apple.quicktime.make"]
    keys_box = box(
        b"keys",
        struct.pack(">II", 0, len(keys)) + b"".join(box(b"mdta", k) for k in keys),
    )
    values = [b"+48.8577+002.2950+035.000/", b"AcmeCam"]
    items = b"".join(
        box(struct.pack(">I", i + 1), box(b"data", struct.pack(">II", 1, 0) + v))
        for i, v in enumerate(values)
    )
    hdlr = box(b"hdlr", bytes(8) + b"mdta" + bytes(13))
    return box(b"meta", hdlr + keys_box + box(b"ilst", items))


def _with_location(data: bytes, path: Path) -> bytes:
    """The video with phone-style location/make/model atoms added to the end of its moov."""
    with path.open("rb") as f:
        moov = next(b for b in top_level_boxes(f, len(data), "v") if b.type == b"moov")
    assert moov.end == len(data), "the fixture writes moov last"
    udta = box(
        b"udta",
        _qt_string(b"\xa9xyz", b"+48.8577+002.2950/")
        + _qt_string(b"\xa9mak", b"AcmeCam")
        + _qt_string(b"\xa9mod", b"Phone X1"),
    )
    extra = udta + _apple_meta()
    return (
        data[: moov.start]
        + struct.pack(">I", moov.size + len(extra))
        + data[moov.start + 4 :]
        + extra
    )


def _mdat(path: Path) -> bytes:
    data = path.read_bytes()
    with path.open("rb") as f:
        found = next(b for b in top_level_boxes(f, len(data), "v") if b.type == b"mdat")
    return data[found.start : found.end]


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux() if p.size]


@pytest.mark.parametrize("container", ["mp4", "mov"])
def test_video_location_and_device_atoms_become_free_space(media: Media, container: str):
    base = media.video((640, 480), rotation=90, container=container, audio=True)
    src = media.variant(base, f"phone.{container}", lambda b: _with_location(b, base))
    with av.open(str(src)) as before:
        assert "location" in before.metadata  # FFmpeg reads what we planted
    dst = stripped(src)
    data = dst.read_bytes()
    assert dst.stat().st_size == src.stat().st_size
    for secret in (b"48.8577", b"AcmeCam", b"Phone X1", b"\xa9xyz", b"ISO6709"):
        assert secret not in data
    with av.open(str(dst)) as after:
        assert not {"location", "make", "model"} & set(after.metadata)
    assert _mdat(dst) == _mdat(src)
    assert _packets(dst) == _packets(src)
    facts = probe(dst)
    assert (facts.width, facts.height, facts.rotation) == (480, 640, probe(src).rotation)
    assert facts.rotation in {90, 270}


def test_ffmpeg_written_mov_location_is_removed(media: Media) -> None:
    src = media.video((640, 640), container="mov", metadata={"location": "+48.8577+002.2950/"})
    assert b"48.8577" in src.read_bytes()
    dst = stripped(src)
    assert b"48.8577" not in dst.read_bytes()
    assert inspect(dst, original_name="a.mov", limits=MediaLimits()).ok


def test_audio_is_left_unchanged(media: Media) -> None:
    src = media.wav(3.0)
    copy = src.with_name("unchanged.wav")
    shutil.copyfile(src, copy)
    assert strip_location_metadata(copy) is False
    assert copy.read_bytes() == src.read_bytes()


def test_a_file_without_identifying_metadata_is_not_rewritten(media: Media) -> None:
    for src in (media.image((640, 480), "JPEG"), media.image((640, 480), "PNG"), media.video()):
        copy = src.with_name("plain" + src.suffix)
        shutil.copyfile(src, copy)
        inode = copy.stat().st_ino
        assert strip_location_metadata(copy) is False
        assert copy.read_bytes() == src.read_bytes() and copy.stat().st_ino == inode


def test_a_rewritten_picture_replaces_the_file_and_leaves_no_scratch_copy(media: Media) -> None:
    src = media.image((640, 480), "JPEG", exif=exif_bytes(gps=True, device=True))
    copy = src.with_name("phone-copy.jpg")
    shutil.copyfile(src, copy)
    assert strip_location_metadata(copy) is True
    assert_clean_exif(copy)
    assert oct(copy.stat().st_mode & 0o777) == oct(0o600)
    assert [p.name for p in copy.parent.iterdir() if p.name.startswith(".")] == []


def test_a_damaged_file_is_refused_rather_than_forwarded(media: Media) -> None:
    source = media.video((640, 640))
    cut = media.variant(source, "cut-for-strip.mp4", lambda b: b[: len(b) // 2])
    before = cut.read_bytes()
    with pytest.raises(MetadataError):
        strip_location_metadata(cut)
    assert cut.read_bytes() == before


def test_an_unknown_file_is_refused(media: Media) -> None:
    with pytest.raises(MetadataError):
        strip_location_metadata(media.write("notes.txt", b"just some words\n" * 10))


# --- Malformed EXIF keeps its orientation ---------------------------------------------------


def _order(exif: bytes) -> str:
    return "<" if exif[6:8] == b"II" else ">"


def _ifd0(exif: bytes) -> tuple[int, int]:
    """(offset of IFD0 in the TIFF block, its entry count)."""
    (ifd,) = struct.unpack_from(_order(exif) + "I", exif, 6 + 4)
    (count,) = struct.unpack_from(_order(exif) + "H", exif, 6 + ifd)
    return ifd, count


def _self_linked(exif: bytes) -> bytes:
    """IFD0's next-IFD link pointing back at IFD0."""
    ifd, count = _ifd0(exif)
    at = 6 + ifd + 2 + 12 * count
    return exif[:at] + struct.pack(_order(exif) + "I", ifd) + exif[at + 4 :]


def _pointing_outside(tag: int) -> Callable[[bytes], bytes]:
    def damage(exif: bytes) -> bytes:
        """The `tag` entry's value (or sub-IFD) pointing far past the end of the block."""
        ifd, count = _ifd0(exif)
        for i in range(count):
            entry = 6 + ifd + 2 + 12 * i
            if struct.unpack_from(_order(exif) + "H", exif, entry)[0] == tag:
                far = struct.pack(_order(exif) + "I", 0x7FFF0000)
                return exif[: entry + 8] + far + exif[entry + 12 :]
        raise AssertionError(f"no entry {tag:#x}")

    return damage


@pytest.mark.parametrize(
    ("damage", "rotation"),
    [
        (_self_linked, 90),  # viewers read IFD0 and its orientation 6
        (_pointing_outside(0x8825), 90),  # the GPS IFD is unreachable; IFD0 reads fine
        (_pointing_outside(0x010F), 0),  # Pillow gives up on IFD0: no orientation seen
    ],
)
def test_malformed_exif_keeps_the_orientation_the_probe_saw(
    media: Media, damage: Callable[[bytes], bytes], rotation: int
) -> None:
    exif = damage(exif_bytes(orientation=6, gps=True, device=True))
    src = media.image((640, 480), "JPEG", exif=exif, quality=90)
    facts = probe(src)
    assert facts.rotation == rotation
    dst = src.with_name(src.stem + ".clean" + src.suffix)
    shutil.copyfile(src, dst)
    # Intake passes what the probe saw: the stored copy must show the picture that way.
    strip_location_metadata(dst, orientation=facts.orientation)
    data = dst.read_bytes()
    assert b"AcmeCam" not in data and b"Phone X1" not in data
    with Image.open(dst) as im:
        exif_after = im.getexif()
        assert exif_after.get(0x0112, 1) == (6 if rotation else 1)
        assert 0x8825 not in exif_after and 0x010F not in exif_after
    assert probe(dst).rotation == rotation
    assert pixels(dst) == pixels(src)


def test_exif_with_no_readable_orientation_is_blanked(media: Media) -> None:
    exif = bytearray(exif_bytes(orientation=6, gps=True))
    exif[6 + 4 : 6 + 8] = struct.pack(_order(bytes(exif)) + "I", 0x7FFF0000)  # IFD0 is unreachable
    src = media.image((640, 480), "JPEG", exif=bytes(exif))
    dst = stripped(src)
    with Image.open(dst) as im:
        assert dict(im.getexif()) == {}

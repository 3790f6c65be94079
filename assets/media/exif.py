"""Remove location and device identity from an EXIF (TIFF) block in place, size unchanged.

The same TIFF structure sits inside JPEG APP1, PNG eXIf, WebP EXIF and HEIF Exif items. Editing
it in place, without changing its length, means no container offset anywhere needs fixing and no
pixel is touched. Removed: the GPS IFD (its pointer entry is deleted and its bytes zeroed),
make/model, serial numbers, owner name, lens identity and the maker note (vendor data that
usually carries the body serial). Kept: everything else, notably the orientation tag, which the
face check needs to see the person upright. A block too damaged to edit is replaced by a minimal
one that holds the orientation alone (`minimal`), so that the picture still shows upright.
"""

from __future__ import annotations

import struct

ORIENTATION = 0x0112
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
# IFD0/IFD1: Make, Model, HostComputer, DNG UniqueCameraModel, CameraSerialNumber (DNG).
_DEVICE_TAGS = frozenset({0x010F, 0x0110, 0x013C, 0xC614, 0xC62F, GPS_IFD})
# Exif IFD: MakerNote, ImageUniqueID, CameraOwnerName, BodySerialNumber, LensSpecification is
# kept (optics, not identity), LensMake, LensModel, LensSerialNumber.
_EXIF_TAGS = frozenset({0x927C, 0xA420, 0xA430, 0xA431, 0xA433, 0xA434, 0xA435, GPS_IFD})
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


class ExifError(ValueError):
    """The block is not a TIFF structure this module can edit safely."""


def scrub_tiff(buf: bytearray, start: int, end: int) -> None:
    """Scrub the TIFF structure in `buf[start:end]` in place. Raises ExifError if malformed."""
    _Scrubber(buf, start, end).run()


def blank(buf: bytearray, start: int, end: int) -> None:
    """Fallback for a block that can't be parsed: zero it (readers then ignore it)."""
    buf[start:end] = bytes(end - start)


def orientation(buf: bytes | bytearray, start: int, end: int) -> int | None:
    """The orientation tag of IFD0, read as leniently as a viewer would (only IFD0's own entries
    need to be intact), or None."""
    try:
        reader = _Scrubber(bytearray(buf[start:end]), 0, end - start)
        ifd = reader._unpack("I", 4)
        count = reader._unpack("H", ifd)
        for i in range(min(count, (end - start) // 12)):
            entry = ifd + 2 + 12 * i
            if reader._unpack("H", entry) == ORIENTATION and reader._unpack("H", entry + 2) == 3:
                value = reader._unpack("H", entry + 8)
                return value if 1 <= value <= 8 else None
    except ExifError:
        return None
    return None


def minimal(value: int, length: int) -> bytes:
    """A TIFF block holding only the orientation `value`, zero-padded to `length` bytes (at least
    26); offsets count from its start, as in the block it replaces."""
    block = b"II*\0" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", ORIENTATION, 3, 1, value, 0)
    block += struct.pack("<I", 0)  # no next IFD
    return block + bytes(length - len(block))


MINIMAL_LENGTH = 26


class _Scrubber:
    def __init__(self, buf: bytearray, start: int, end: int) -> None:
        self.buf, self.start, self.end = buf, start, end
        order = bytes(buf[start : start + 2])
        if order not in (b"II", b"MM") or end - start < 8:
            raise ExifError("no TIFF header")
        self.order = "<" if order == b"II" else ">"
        if self._unpack("H", 2) != 42:
            raise ExifError("bad TIFF magic")
        self.seen: set[int] = set()

    def _unpack(self, fmt: str, offset: int) -> int:
        if offset < 0 or self.start + offset + struct.calcsize(fmt) > self.end:
            raise ExifError(f"offset {offset} outside the block")
        return int(struct.unpack_from(self.order + fmt, self.buf, self.start + offset)[0])

    def _zero(self, offset: int, length: int) -> None:
        lo = self.start + offset
        hi = min(self.end, lo + length)
        if lo < self.start or lo > self.end:
            raise ExifError("value outside the block")
        self.buf[lo:hi] = bytes(hi - lo)

    def run(self) -> None:
        ifd = self._unpack("I", 4)
        # IFD0 (the picture) then IFD1 (the thumbnail) through the "next IFD" links. A link back
        # to an IFD already scrubbed ends the chain: it is cut (set to 0), so that the block left
        # behind is well formed, and nothing was skipped.
        while ifd and len(self.seen) < 8:
            ifd, link = self._scrub_ifd(ifd, _DEVICE_TAGS)
            if ifd in self.seen:
                self.buf[self.start + link : self.start + link + 4] = bytes(4)
                return

    def _value(self, entry: int) -> tuple[int, int, int]:
        """(tag, byte length of the value, offset of out-of-line data or -1 if inline)."""
        tag, kind, count = (
            self._unpack("H", entry),
            self._unpack("H", entry + 2),
            self._unpack("I", entry + 4),
        )
        length = _TYPE_SIZES.get(kind, 1) * count
        return tag, length, self._unpack("I", entry + 8) if length > 4 else -1

    def _scrub_ifd(self, ifd: int, drop: frozenset[int]) -> tuple[int, int]:
        """Delete the `drop` entries of one IFD; returns the next IFD's offset (0 if none) and
        where that link now is."""
        if ifd in self.seen:
            raise ExifError("IFD loop")
        self.seen.add(ifd)
        count = self._unpack("H", ifd)
        first = ifd + 2
        next_at = first + 12 * count
        next_ifd = self._unpack("I", next_at)
        kept: list[bytes] = []
        for i in range(count):
            entry = first + 12 * i
            tag, length, data_at = self._value(entry)
            if tag == EXIF_IFD and tag not in drop:
                self._scrub_ifd(self._unpack("I", entry + 8), _EXIF_TAGS)  # its link is unused
            if tag in drop:
                if tag == GPS_IFD:
                    self._wipe_ifd(self._unpack("I", entry + 8))
                elif data_at >= 0:
                    self._zero(data_at, length)
                continue
            lo = self.start + entry
            kept.append(bytes(self.buf[lo : lo + 12]))
        if len(kept) == count:
            return next_ifd, next_at
        # Compact the entries; the next-IFD link moves up and the freed tail is zeroed. Values
        # stored elsewhere keep their offsets, so nothing else moves.
        pos = self.start + ifd
        self.buf[pos : pos + 2] = struct.pack(self.order + "H", len(kept))
        body = b"".join(kept) + struct.pack(self.order + "I", next_ifd)
        self.buf[pos + 2 : pos + 2 + len(body)] = body
        self._zero(ifd + 2 + len(body), 12 * (count - len(kept)))
        return next_ifd, ifd + 2 + 12 * len(kept)

    def _wipe_ifd(self, ifd: int) -> None:
        """Zero an IFD and every value it points to (used for the GPS IFD)."""
        if ifd in self.seen:
            return
        self.seen.add(ifd)
        count = self._unpack("H", ifd)
        for i in range(count):
            _tag, length, data_at = self._value(ifd + 2 + 12 * i)
            if data_at >= 0:
                self._zero(data_at, length)
        self._zero(ifd, 2 + 12 * count + 4)

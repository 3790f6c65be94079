"""What one check may cost, whatever the file's structure.

A file that is cheap to send can still be expensive to read: five million empty boxes, a
chunk-offset table with eight million entries, seven million empty JPEG comments. Every walk in
this package counts what it visits against the caps below and refuses the file as malformed
the moment one is passed, before any library walks the same structure (Pillow, FFmpeg and
libheif keep a Python object, an index entry or a dictionary slot per item, and some of them
search those linearly). The caps sit far above what cameras, phones and editors write, so only
crafted or broken files meet them; with them, checking a file costs well under a second and a few
megabytes at most, at any size up to the upload limits.

Decoding a whole picture can't be bounded that way: its memory is its pixel count (a 6000×6000
16-bit PNG inflates to 288 MB, a 36 MP progressive JPEG needs ~110 MB of coefficients even when
scaled down, a 12 MP HEIC ~100 MB). Intake decodes a picture only when that memory stays under
`WEB_DECODE_BYTES`; a larger one is decoded in the worker before the upstream call
(`assets.media.pixels`), which also decodes it for the face check and already budgets a few
hundred megabytes for MediaPipe. A child process per upload was the other choice: it would cost
each upload ~150 ms of interpreter start and imports (forking a threaded gunicorn worker instead
is unsafe), and the worker has to decode the picture anyway.
"""

from __future__ import annotations

from typing import Final

from assets.media.facts import MediaError, ProblemCode

# ISO base media (MP4, MOV, HEIC). Files from cameras have 3–6 top-level boxes; a fragmented
# recording has two per fragment (a few hundred for fifteen seconds).
MAX_TOP_LEVEL_BOXES: Final = 4_096
# Boxes inside one index (`moov`, or a HEIC's `meta`), all levels together: a few dozen per track.
MAX_INDEX_BOXES: Final = 20_000
# Index entries FFmpeg builds for a whole movie: samples of every track (chunks, for tracks of
# fixed-size samples such as PCM), fragments included. 15 s at 60 fps with sound is ~1,600; the
# cap leaves room for videos far over the length limit to be measured and refused as too long.
MAX_SAMPLES: Final = 100_000
MAX_EDITS: Final = 100  # edit-list entries per track (writers use one or two)
MAX_METADATA_ITEMS: Final = 1_000  # `udta`/`meta` entries of a movie (phones write a dozen)
# Images.
MAX_JPEG_SEGMENTS: Final = 2_000  # markers per picture (a progressive JPEG has ~40)
MAX_JPEG_PICTURES: Final = 16  # primary picture plus the secondary ones phones append
MAX_PNG_CHUNKS: Final = 100_000  # 30 MB of the 8 KB IDAT chunks libpng writes is ~3,700
MAX_PNG_ANCILLARY: Final = 1_000  # chunks other than image data
MAX_GIF_BLOCKS: Final = 10_000  # extensions and frames
MAX_GIF_SUB_BLOCKS: Final = 250_000  # 255-byte data blocks: 30 MB is ~118,000
MAX_RIFF_CHUNKS: Final = 1_000  # WebP and WAV chunks
MAX_HEIF_ITEMS: Final = 10_000  # items, and extents of all items together
MAX_ID3_FRAMES: Final = 1_000  # frames of an MP3's ID3v2 tag
# Memory a decode at intake may take (the web worker's share of its 250 MB budget).
WEB_DECODE_BYTES: Final = 24 * 1024 * 1024


def too_many(what: str, count: int | str, things: str) -> MediaError:
    """The error for a file that passes a cap: malformed, in words a person can act on."""
    amount = f"{count:,}" if isinstance(count, int) else count
    return MediaError(
        ProblemCode.CORRUPT,
        f"The {what} is malformed: it has {amount} {things}, far more than any camera or app "
        "writes, so it was not read further. Export it again from the app that made it.",
    )


class Budget:
    """A countdown of items a walk may visit; `take` raises the malformed-file error when it
    runs out."""

    __slots__ = ("cap", "left", "things", "what")

    def __init__(self, cap: int, what: str, things: str) -> None:
        self.cap, self.left, self.what, self.things = cap, cap, what, things

    def take(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise too_many(self.what, f"more than {self.cap:,}", self.things)

"""Rebuild the receipt PDF's two embedded fonts from Debian's fonts-noto-cjk and fonts-dejavu-core:

    python verification/receipts/fonts/build_subset.py

`DejaVuSans-Subset.ttf` draws the letters Helvetica can't (Latin beyond cp1252: Łódź, Dvořák,
Nguyễn; Greek; Cyrillic). `NotoSansCJKsc-Subset.ttf` draws Chinese.

The receipt PDF must embed the glyphs it uses (a reader without CJK fonts draws nothing for a
font it is only told the name of), and ReportLab embeds TrueType outlines only: Noto's are CFF.
So the subset is converted to quadratic TrueType outlines. It covers GB 2312 and Big5 level 1 (the
characters of everyday Simplified and Traditional Chinese names and texts), CJK and fullwidth
punctuation, the Latin letters beyond cp1252, Greek, Cyrillic, common symbols and every character of the shipped catalogues.
Characters outside it print as a visible box, never as blank space.
"""

import contextlib
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TARGET = HERE / "NotoSansCJKsc-Subset.ttf"
FACE = "Noto Sans CJK SC"
LATIN_SOURCE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LATIN_TARGET = HERE / "DejaVuSans-Subset.ttf"
LATIN_RANGES = [
    (0x00A0, 0x024F),  # Latin-1, Latin Extended A and B
    (0x0250, 0x02FF),  # IPA extensions, spacing modifiers
    (0x0300, 0x036F),  # combining marks
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x052F),  # Cyrillic
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
]
RANGES = [
    (0x0370, 0x03FF),  # Greek and Cyrillic as CJK texts set them (fullwidth contexts)
    (0x0400, 0x04FF),
    (0x2000, 0x206F),  # general punctuation
    (0x2100, 0x214F),  # letterlike symbols
    (0x2190, 0x21FF),  # arrows
    (0x2460, 0x24FF),  # enclosed numbers
    (0x25A0, 0x25FF),  # shapes
    (0x3000, 0x303F),  # CJK punctuation
    (0x3100, 0x312F),  # bopomofo
    (0xFF00, 0xFFEF),  # fullwidth forms
]


def characters() -> set[str]:
    chosen = {chr(point) for start, end in RANGES for point in range(start, end + 1)}
    for high in range(0xA1, 0xF8):  # GB 2312, all of it
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chosen.add(bytes([high, low]).decode("gb2312"))
    for high in range(0xA4, 0xC7):  # Big5 level 1: the frequently used characters
        for low in [*range(0x40, 0x7F), *range(0xA1, 0xFF)]:
            with contextlib.suppress(UnicodeDecodeError):
                chosen.add(bytes([high, low]).decode("big5"))
    for po in (ROOT / "locale").glob("*/LC_MESSAGES/*.po"):
        chosen |= set(po.read_text(encoding="utf-8"))
    return {char for char in chosen if ord(char) > 0x7F}


def to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines by quadratic TrueType ones (fontTools' otf2ttf recipe)."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    del font["CFF "]
    font["maxp"].tableVersion = 0x00010000
    for attr in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(font["maxp"], attr, 0)
    font["maxp"].maxZones = 1
    font["post"].formatType = 2.0
    font["post"].extraNames = []
    font["post"].mapping = {}
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def _subset(font: TTFont, unicodes: list[int]) -> None:
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "kern"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)


def _report(font: TTFont, target: Path) -> None:
    print(f"{target.name}: {len(font.getGlyphOrder())} glyphs, {target.stat().st_size:,} bytes")


def main() -> None:
    collection = TTCollection(str(SOURCE))
    font = next(f for f in collection.fonts if f["name"].getDebugName(4) == FACE)
    _subset(font, sorted(ord(char) for char in characters()))
    to_truetype(font)
    font.save(str(TARGET))
    _report(font, TARGET)
    latin = TTFont(str(LATIN_SOURCE))
    _subset(latin, [point for start, end in LATIN_RANGES for point in range(start, end + 1)])
    latin.save(str(LATIN_TARGET))
    _report(latin, LATIN_TARGET)


if __name__ == "__main__":
    main()

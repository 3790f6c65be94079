"""The PDF of a consent receipt: one or two A4 pages anyone can read, built from the receipt
document alone (see `verification.receipts.build_receipt`)."""

from __future__ import annotations

import html
import unicodedata
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

# What Helvetica/Courier can't spell (outside cp1252) is set in one of two subset fonts shipped
# beside this file (fonts/README.md), and the glyphs used are embedded: a font the PDF only names
# (a CID font such as STSong-Light) draws nothing in a reader that lacks it. Latin beyond cp1252,
# Greek and Cyrillic go to DejaVu Sans; Chinese in either script and the rest to Noto Sans CJK.
FONTS = Path(__file__).resolve().parent / "fonts"
LATIN_FONT = "SitterLatin"
CJK_FONT = "SitterCJK"
_INK = colors.HexColor("#1d2330")
_MUTED = colors.HexColor("#5f6b7a")
_RULE = colors.HexColor("#d5dae1")
_WASH = colors.HexColor("#f3f5f8")


@cache
def _styles() -> dict[str, ParagraphStyle]:
    _register_fonts()
    base = ParagraphStyle(
        "body", fontName="Helvetica", fontSize=9.5, leading=13, textColor=_INK, alignment=TA_LEFT
    )
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontName="Helvetica-Bold", fontSize=18, leading=22),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=8.5, textColor=_MUTED, leading=11),
        "heading": ParagraphStyle(
            "heading",
            base,
            fontName="Helvetica-Bold",
            fontSize=11,
            spaceBefore=9,
            spaceAfter=3,
            keepWithNext=1,
        ),
        "label": ParagraphStyle("label", base, fontName="Helvetica-Bold", textColor=_MUTED),
        "text": ParagraphStyle("text", base, fontSize=9, leading=12.5, spaceAfter=4),
        "small": ParagraphStyle("small", base, fontSize=8, leading=10.5, textColor=_MUTED),
        "mono": ParagraphStyle("mono", base, fontName="Courier", fontSize=7.5, leading=10),
        "cell": ParagraphStyle("cell", base, fontSize=8, leading=10.5),
    }


@cache
def _register_fonts() -> frozenset[int]:
    """Register both fonts; returns the code points the Latin one draws."""
    latin = TTFont(LATIN_FONT, str(FONTS / "DejaVuSans-Subset.ttf"))
    pdfmetrics.registerFont(latin)
    pdfmetrics.registerFont(TTFont(CJK_FONT, str(FONTS / "NotoSansCJKsc-Subset.ttf")))
    return frozenset(latin.face.charToGlyph)


def render_pdf(receipt: dict[str, Any]) -> bytes:
    """An A4 PDF of a receipt from `build_receipt`, in the active language. Same receipt, same
    bytes: the creation date is the receipt's `issued_at` (the real time it was made, as the
    evidence needs), and no random document id is inside."""
    consent = receipt["consent"]
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=_clean(_("Consent receipt") + f" {receipt['receipt_id']}"),
        author=_clean(receipt["controller"]["name"]),
        invariant=True,
    )
    width = document.width
    story: list[Flowable] = [
        _para(_("Consent receipt"), "title"),
        _para(
            _("Receipt %(id)s, issued %(when)s")
            % {"id": receipt["receipt_id"], "when": _display_instant(receipt["issued_at"])},
            "subtitle",
        ),
        Spacer(1, 4 * mm),
        _facts(
            [
                (_("Collected by"), _controller(receipt["controller"])),
                (_("Person"), receipt["subject"]["name"]),
                (_("Project"), consent["project"]),
                (_("Intended use"), consent["intended_use"]),
                (_("What is covered"), _covered(consent["media_kinds"])),
                (_("Until"), consent["term_ends_on"] or _("No end date: until you withdraw")),
                (_("Signed"), _display_instant(consent["signed_at"])),
                (_("Signature"), consent["signature_name"]),
                (_("Signed from"), _signed_from(consent["collection"])),
                *_in_person(consent["collection"]),
                (_("Consent now"), _state(consent["state"])),
            ],
            width,
        ),
        _para(_("The text you agreed to"), "heading"),
        _para(
            _("%(title)s (version %(version)s, %(language)s)")
            % {
                "title": consent["text"]["title"],
                "version": consent["text"]["version"],
                "language": consent["text"]["language"],
            },
            "label",
        ),
        *_body(consent["text"]["body"]),
        _para(
            _("SHA-256 of this text (%(method)s):") % {"method": consent["text"]["hash_method"]},
            "small",
        ),
        _para(consent["text"]["sha256"], "mono"),
        _para(_("Identity check"), "heading"),
        _facts(_verification_rows(receipt["verification"]), width),
        _para(_("Position in the audit ledger"), "heading"),
        _facts(_ledger_rows(receipt["ledger"]), width, mono=True),
        _para(_("Media held under this consent"), "heading"),
        _assets(receipt["assets"], width),
        _para(_("Withdrawing"), "heading"),
        *_withdrawal(receipt["withdrawal"]),
        Spacer(1, 5 * mm),
        _para(
            _(
                "The JSON receipt holds the same facts for machines. Its receipt_sha256 is the "
                "SHA-256 of its canonical JSON (sorted keys, no spaces, UTF-8) without that member:"
            ),
            "small",
        ),
        _para(receipt["receipt_sha256"], "mono"),
    ]
    footer = _clean(receipt["receipt_id"])

    def decorate(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        if doc.page == 1:
            _stamp(canvas, datetime.fromisoformat(receipt["issued_at"]))
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(_MUTED)
        canvas.drawString(doc.leftMargin, 9 * mm, footer)
        canvas.drawRightString(doc.leftMargin + doc.width, 9 * mm, str(doc.page))
        canvas.restoreState()

    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


def _stamp(canvas: Canvas, when: datetime) -> None:
    """Date the document (CreationDate, ModDate) at `when`. ReportLab's invariant mode, which
    keeps the bytes reproducible, would otherwise date every PDF 2000-01-01."""
    stamp = TimeStamp(invariant=True)
    moment = when.astimezone(UTC)
    stamp.t = moment.timestamp()
    stamp.lt = moment.utctimetuple()
    stamp.YMDhms = tuple(stamp.lt)[:6]
    stamp.dhh = stamp.dmm = 0
    stamp.tzname = "UTC"
    canvas._doc._timeStamp = stamp


def _controller(controller: dict[str, Any]) -> str:
    return f"{controller['name']} ({controller['contact']})"


def _covered(kinds: list[dict[str, Any]]) -> str:
    names = {"image": _("Face images"), "video": _("Video"), "audio": _("Voice recordings")}
    return ", ".join(names.get(item["kind"], item["description"]) for item in kinds) or "—"


def _state(state: str) -> str:
    return {"active": _("Active"), "withdrawn": _("Withdrawn"), "expired": _("Ended")}.get(
        state, state
    )


def _signed_from(collection: dict[str, Any]) -> str:
    parts = [collection["ip"] or "", collection["user_agent"] or ""]
    return " · ".join(part for part in parts if part) or "—"


def _in_person(collection: dict[str, Any]) -> list[tuple[str, str]]:
    shown = collection.get("in_person")
    if not shown:
        return []
    text = _("Consent given in person, shown by %(name)s") % {"name": shown["shown_by"]}
    return [(_("How it was given"), text)]


def _verification_rows(verification: dict[str, Any] | None) -> list[tuple[str, str]]:
    if verification is None:
        return [(_("Status"), _("No identity check belongs to this consent."))]
    statuses = {
        "verified": _("Verified: the live check confirmed it was you"),
        "failed": _("Not passed yet"),
        "expired": _("Expired before it was completed"),
        "cancelled": _("Cancelled"),
    }
    account = verification["upstream_account"]
    return [
        (_("Status"), statuses.get(verification["status"], _("Not completed yet"))),
        (_("Completed"), _display_instant(verification["completed_at"])),
        (_("Group id"), verification["group_id"] or "—"),
        (_("Video partner account"), f"{account['name']} ({account['provider']})"),
    ]


def _ledger_rows(ledger: dict[str, Any]) -> list[tuple[str, str]]:
    given, head, checkpoint = ledger["consent_given"], ledger["head"], ledger["checkpoint"]
    rows = [
        (
            _("Your consent"),
            f"#{given['seq']} {given['hash']}" if given else _("Not recorded"),
        ),
        (_("Ledger head"), f"#{head['seq']} {head['hash']}" if head else "—"),
    ]
    if checkpoint:
        rows.append(
            (
                _("Signed checkpoint"),
                _("#%(seq)s %(hash)s %(instant)s key %(fingerprint)s")
                % {
                    "seq": checkpoint["seq"],
                    "hash": checkpoint["head_hash"],
                    "instant": _display_instant(checkpoint["created_at"]),
                    "fingerprint": checkpoint["key_fingerprint"],
                },
            )
        )
    else:
        rows.append((_("Signed checkpoint"), _("None yet; one is signed periodically.")))
    return rows


def _assets(assets: list[dict[str, Any]], width: float) -> Flowable:
    if not assets:
        return _para(_("None yet."), "body")
    styles = _styles()
    rows: list[list[Flowable]] = [
        [_para(label, "label") for label in (_("File"), _("Kind"), _("Status"), _("SHA-256"))]
    ]
    for asset in assets:
        name = f"{asset['name']}\n{_display_instant(asset['added_at'])}"
        hashes = asset["sha256"] + (f"\n{asset['upstream_id']}" if asset["upstream_id"] else "")
        rows.append(
            [
                _para(name, "cell"),
                _para(asset["kind"], "cell"),
                _para(asset["status"], "cell"),
                _para(hashes, "mono"),
            ]
        )
    mono_width = pdfmetrics.stringWidth("0" * 64, "Courier", styles["mono"].fontSize) + 8
    rest = width - mono_width
    table = Table(rows, colWidths=[rest - 110, 45, 65, mono_width], repeatRows=1, hAlign="LEFT")
    table.setStyle(_table_style(header=True))
    return table


def _withdrawal(withdrawal: dict[str, Any]) -> list[Flowable]:
    if withdrawal["withdrawn"]:
        lines = [
            _("You withdrew this consent on %(when)s.")
            % {"when": _display_instant(withdrawal["withdrawn_at"])}
        ]
        if withdrawal["ledger"]:
            lines.append(
                _("Ledger entry #%(seq)s %(hash)s")
                % {"seq": withdrawal["ledger"]["seq"], "hash": withdrawal["ledger"]["hash"]}
            )
        if withdrawal["media_destroyed_at"]:
            lines.append(
                _("The media held under it was deleted on %(when)s.")
                % {"when": _display_instant(withdrawal["media_destroyed_at"])}
            )
        return [_para(line, "body") for line in lines]
    return [
        _para(
            _(
                "You can withdraw at any time: open your personal link from the invitation and "
                "press Withdraw. Nothing more is then used under this consent, and the media "
                "held under it is deleted."
            ),
            "body",
        )
    ]


def _facts(rows: list[tuple[str, str]], width: float, *, mono: bool = False) -> Table:
    cells = [
        [_para(label, "label"), _para(value, "mono" if mono else "body")] for label, value in rows
    ]
    table = Table(cells, colWidths=[38 * mm, width - 38 * mm], hAlign="LEFT")
    table.setStyle(_table_style(header=False))
    return table


def _table_style(*, header: bool) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, _RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), _WASH))
    return TableStyle(commands)


def _body(text: str) -> list[Flowable]:
    """The consent text, one flowable per paragraph (blank-line separated)."""
    cleaned = _clean(text)
    return [_para(block, "text") for block in cleaned.split("\n\n") if block.strip()]


def _display_instant(value: str | None) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _para(text: str, style: str) -> Paragraph:
    """A paragraph of plain text (never markup) in one of `_styles()`, CJK runs in `CJK_FONT`."""
    base = _styles()[style]
    markup, has_cjk = _markup(text)
    if has_cjk:
        # Break between any two CJK characters, and keep 。, etc. off the start of a line.
        base = ParagraphStyle(f"{style}-cjk", base, wordWrap="CJK")
    return Paragraph(markup, base)


def _markup(text: str) -> tuple[str, bool]:
    """Escape for reportlab's mini-HTML; each run goes to the font that draws it: the style's
    own (cp1252), `LATIN_FONT` or `CJK_FONT`. Says whether any run is in `CJK_FONT`."""
    out: list[str] = []
    run: list[str] = []
    run_face = ""
    faces: set[str] = set()

    def flush() -> None:
        if not run:
            return
        escaped = html.escape("".join(run), quote=False).replace("\n", "<br/>")
        out.append(f'<font face="{run_face}">{escaped}</font>' if run_face else escaped)
        run.clear()

    for char in _clean(text):
        face = _face_for(char)
        if face != run_face:
            flush()
            run_face = face
        faces.add(face)
        run.append(char)
    flush()
    return "".join(out), CJK_FONT in faces


@cache
def _face_for(char: str) -> str:
    """ "" for the paragraph style's own font, else the embedded font that draws `char`."""
    if char == "\n" or _is_latin(char):
        return ""
    return LATIN_FONT if ord(char) in _register_fonts() else CJK_FONT


@cache
def _is_latin(char: str) -> bool:
    """Helvetica and Courier draw exactly what cp1252 (their WinAnsi encoding) can spell."""
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _clean(text: str) -> str:
    """Text any PDF reader can show: LF line ends, no control or invisible format characters,
    no lone surrogates. What the font lacks shows as an empty box, never as an error."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return "".join(
        char
        for char in text
        if char == "\n" or unicodedata.category(char) not in ("Cc", "Cf", "Cs")
    )

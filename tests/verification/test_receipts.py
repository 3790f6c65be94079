"""Consent receipts: the JSON names the exact text and its ledger entry, the PDF reads back, and the
email carries both without ever carrying the link."""

import hashlib
import io
import json
import logging
import uuid

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from pypdf import PdfReader

from assets.models import Asset
from ledger.checkpoints import write_checkpoint
from ledger.models import AuditEvent, LedgerHead
from ledger.services import Actor
from ledger.signing import checkpoint_message, is_valid, load_public_key
from tests.assets.test_intake import run_forwarding_and_checks, upload
from verification import receipts, withdrawal
from verification.models import Consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def consent(verified_group, person) -> Consent:
    """Given through the services, verified at the simulator (`tests.journey`)."""
    return Consent.objects.get(person=person)


def pdf_text(pdf: bytes) -> str:
    """The text of every page, as a reader would copy it (pypdf; the streams are compressed)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def html_of(message: object) -> str:
    assert isinstance(message, EmailMultiAlternatives)
    [html] = [str(content) for content, mimetype in message.alternatives if mimetype == "text/html"]
    return html


def test_the_json_names_the_exact_text_and_its_ledger_entry(consent, consent_text, project):
    receipt = receipts.build_receipt(consent)

    given = AuditEvent.objects.for_subject(consent).get(action="consent.given")
    head = LedgerHead.objects.get()
    assert receipt["receipt_version"] == "1"
    assert receipt["consent"]["text"]["sha256"] == consent_text.sha256 == consent.text_sha256
    assert receipt["consent"]["text"]["body"] == consent_text.body
    assert receipt["ledger"]["consent_given"]["seq"] == given.seq
    assert receipt["ledger"]["consent_given"]["hash"] == given.hash
    assert receipt["ledger"]["head"] == {"seq": head.seq, "hash": head.hash}
    assert receipt["consent"]["project"] == project.name
    assert receipt["consent"]["intended_use"] == project.intended_use
    assert [k["description"] for k in receipt["consent"]["media_kinds"]] == [
        "face images",
        "video",
        "voice recordings",
    ]
    assert receipt["consent"]["signed_at"].endswith("Z")
    assert receipt["consent"]["collection"]["ip"] == "198.51.100.4"
    assert receipt["verification"]["status"] == "verified"
    assert receipt["verification"]["group_id"] == consent.session.upstream_group_id
    assert receipt["verification"]["upstream_account"]["name"] == "Simulated Anyfast"
    assert receipt["subject"] == {"id": consent.person_id, "name": "Jane Doe"}
    assert "jane@example.com" not in json.dumps(receipt)  # contact details stay out
    assert receipt["withdrawal"]["withdrawn"] is False
    # Stable per consent, and a UUID.
    assert receipts.build_receipt(consent)["receipt_id"] == receipt["receipt_id"]
    assert uuid.UUID(receipt["receipt_id"]).version == 5
    assert list(receipt)[-1] == "receipt_sha256"


def test_anyone_can_check_the_receipt_hash(consent):
    receipt = json.loads(receipts.receipt_json(receipts.build_receipt(consent)))

    rest = {key: value for key, value in receipt.items() if key != "receipt_sha256"}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == receipt["receipt_sha256"]
    assert receipts.verify_receipt(receipt)
    receipt["consent"]["media_kinds"].pop()
    assert not receipts.verify_receipt(receipt)


def test_assets_added_later_appear(consent, staff_client, media, settings):
    assert receipts.build_receipt(consent)["assets"] == []
    settings.ASSET_FORWARDING_MODE = "inline"
    group = consent.session.group
    response = upload(staff_client, group, media.image((800, 1000)), "portrait.jpg")
    asset = run_forwarding_and_checks(Asset.objects.get(pk=response.json()["assets"][0]["id"]))

    [listed] = receipts.build_receipt(consent)["assets"]
    assert listed["name"] == "portrait.jpg" and listed["kind"] == "image"
    assert listed["sha256"] == asset.sha256 and listed["upstream_id"] == asset.upstream_id
    assert listed["status"] == "active"
    assert asset.upstream_id in pdf_text(receipts.render_pdf(receipts.build_receipt(consent)))


def test_a_withdrawn_consent_shows_its_withdrawal(consent):
    withdrawal.withdraw_consent(consent=consent, actor=Actor.person(consent.person_id))

    receipt = receipts.build_receipt(consent)
    event = AuditEvent.objects.for_subject(consent).get(action="consent.withdrawn")
    assert receipt["consent"]["state"] == "withdrawn"
    assert receipt["withdrawal"]["withdrawn"] is True
    assert receipt["withdrawal"]["withdrawn_at"] == receipt["consent"]["withdrawn_at"]
    assert receipt["withdrawal"]["ledger"]["seq"] == event.seq
    assert receipt["withdrawal"]["ledger"]["hash"] == event.hash
    assert "You withdrew this consent" in pdf_text(receipts.render_pdf(receipt))


def test_a_signed_checkpoint_covering_the_consent_can_be_checked(consent):
    assert receipts.build_receipt(consent)["ledger"]["checkpoint"] is None
    written = write_checkpoint()
    assert written is not None

    checkpoint = receipts.build_receipt(consent)["ledger"]["checkpoint"]
    assert (
        checkpoint["seq"]
        == written.seq
        >= receipts.build_receipt(consent)["ledger"]["consent_given"]["seq"]
    )
    message = checkpoint_message(
        seq=checkpoint["seq"], head_hash=checkpoint["head_hash"], created_at=written.created_at
    )
    assert is_valid(message, checkpoint["signature"], load_public_key(checkpoint["public_key"]))


def test_the_pdf_reads_back_with_the_project_and_the_hash(consent, project, consent_text):
    receipt = receipts.build_receipt(consent)
    pdf = receipts.render_pdf(receipt)

    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    assert project.name in text and "Jane Doe" in text
    assert consent_text.sha256 in text and receipt["receipt_sha256"] in text
    assert "press Withdraw" in text
    assert len(PdfReader(io.BytesIO(pdf)).pages) <= 2
    assert receipts.render_pdf(receipt) == pdf  # deterministic


def test_the_pdf_renders_chinese_and_survives_odd_unicode(consent):
    receipt = receipts.build_receipt(consent)
    receipt["subject"]["name"] = "李伟"
    receipt["consent"]["signature_name"] = "李伟"
    receipt["consent"]["text"]["body"] = "本人同意工作室在上述项目中使用我的面部、视频和声音。" * 8
    assert "李伟" in pdf_text(receipts.render_pdf(receipt))

    receipt["subject"]["name"] = "Zoë\x00 <b>&amp; \u202eevil\u202c 😀 \ud800 ﷽ Łódź\r\nnext"
    receipt["consent"]["collection"]["user_agent"] = "x" * 600
    text = pdf_text(receipts.render_pdf(receipt))
    assert "<b>&amp;" in text and "Łódź" in text  # markup stays text


def test_the_receipt_is_emailed_with_both_files(consent, person):
    assert receipts.send_receipt(consent=consent) is True

    [message] = mail.outbox
    assert message.to == [person.email]
    receipt_id = receipts.receipt_id(consent)
    (pdf_name, pdf, pdf_type), (json_name, body, json_type) = message.attachments
    assert (pdf_name, pdf_type) == (f"receipt-{receipt_id}.pdf", "application/pdf")
    assert (json_name, json_type) == (f"receipt-{receipt_id}.json", "application/json")
    assert pdf.startswith(b"%PDF-")
    assert receipts.verify_receipt(json.loads(body))
    assert "Winter campaign" in message.subject
    # The link token is never stored, so it can't be in here; the mail says to use the invitation.
    html = html_of(message)
    for part in (message.body, html):
        assert "/p/" not in part and "invitation" in part
    assert 'lang="en"' in html


def test_the_email_is_in_the_persons_language(consent, person):
    person.language = "zh-hans"
    person.save()

    assert receipts.send_receipt(consent=Consent.objects.get(pk=consent.pk)) is True
    # Only the language switch is checked: the Chinese catalogue may not be compiled yet.
    assert 'lang="zh-hans"' in html_of(mail.outbox[0])


def test_no_email_address_means_no_mail(consent, person):
    person.email = ""
    person.save()

    assert receipts.send_receipt(consent=Consent.objects.get(pk=consent.pk)) is False
    assert mail.outbox == []


def test_a_refusing_mail_server_is_logged_not_raised(consent, person, settings, caplog):
    settings.MAILERS = {"default": {"BACKEND": "tests.verification.failing_mail.RefusingBackend"}}

    with caplog.at_level(logging.WARNING, logger="verification.receipts"):
        assert receipts.send_receipt(consent=consent) is False
    [line] = caplog.messages
    assert str(person.pk) in line and person.email not in line


# --- The Chinese receipt as a reader draws it --------------------------------------------------


def _rendered_words(pdf: bytes, tmp_path) -> list[tuple[str, int]]:
    """Each word poppler finds on page 1, with the dark pixels inside its box when poppler draws
    the page (pdftoppm at 100 dpi) as a reader without fonts of its own would: a glyph the PDF
    names but does not carry then draws nothing."""
    import os
    import re
    import shutil
    import subprocess

    from PIL import Image

    for tool in ("pdftoppm", "pdftotext"):
        if not shutil.which(tool):
            pytest.fail(f"This test needs poppler's {tool}: apt-get install -y poppler-utils")
    source = tmp_path / "receipt.pdf"
    source.write_bytes(pdf)
    # No font directories: poppler can't substitute this machine's CJK fonts for missing ones.
    (tmp_path / "fonts.conf").write_text(
        f"<fontconfig><dir>{tmp_path / 'none'}</dir><cachedir>{tmp_path}</cachedir></fontconfig>"
    )
    bare = {**os.environ, "FONTCONFIG_FILE": str(tmp_path / "fonts.conf")}
    subprocess.run(
        ["pdftoppm", "-r", "100", "-f", "1", "-l", "1", "-gray", "-png", source, tmp_path / "page"],
        check=True,
        env=bare,
        capture_output=True,
    )
    [png] = tmp_path.glob("page*.png")
    page = Image.open(png).convert("L")
    boxes = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-bbox", source, "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    scale = 100 / 72
    words = []
    for match in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        boxes,
    ):
        x0, y0, x1, y1 = (float(value) * scale for value in match.groups()[:4])
        crop = page.crop((int(x0), int(y0), int(x1) + 1, int(y1) + 1))
        words.append((match.group(5), sum(crop.histogram()[:200])))
    return words


def test_the_chinese_receipt_draws_its_chinese(consent, tmp_path):
    from django.utils import translation

    with translation.override("zh-hans"):
        receipt = receipts.build_receipt(consent)
        receipt["subject"]["name"] = "李伟"
        receipt["consent"]["text"]["body"] = "本人同意工作室在上述项目中使用我的面部、视频和声音。"
        pdf = receipts.render_pdf(receipt)
    chinese = [
        (word, ink)
        for word, ink in _rendered_words(pdf, tmp_path)
        if any("\u4e00" <= char <= "\u9fff" for char in word)
    ]
    assert len(chinese) > 10  # headings, labels, the name and the text
    blank = [word for word, ink in chinese if ink < 3]
    assert blank == []
    assert "李伟" in "".join(word for word, _ in chinese)


def test_the_receipt_pdf_is_dated_when_it_was_made(consent):
    from datetime import UTC, datetime

    receipt = receipts.build_receipt(consent)
    info = PdfReader(io.BytesIO(receipts.render_pdf(receipt))).metadata
    assert info is not None and info.creation_date is not None
    issued = datetime.fromisoformat(receipt["issued_at"]).astimezone(UTC)
    created = info.creation_date.astimezone(UTC)
    assert abs((created - issued).total_seconds()) < 1
    assert abs((datetime.now(UTC) - created).total_seconds()) < 120

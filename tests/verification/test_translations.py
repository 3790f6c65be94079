"""The person's pages, messages and errors in their language; the catalogues complete and compiled."""

import ast
import gettext
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone, translation

from tests.journey import PHONE

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGUES = ["zh_Hans", "zh_Hant"]
# Where the words a person reads come from; every message from these must be translated.
PERSON_FACING = (
    "templates/person/",
    "templates/verification/email/",
    "templates/verification/sms/",
    "templates/assets/person_upload.html",
    "templates/assets/_uploader.html",
    "verification/forms.py",
    "verification/receipts",
    "verification/services.py",
    "verification/views/person.py",
    "verification/liveness.py",
    "assets/views.py",
    "assets/person_words.py",
)
# Keywords as `makemessages` passes them to xgettext.
XGETTEXT_KEYWORDS = [
    "--keyword=gettext_noop",
    "--keyword=gettext_lazy",
    "--keyword=ngettext_lazy:1,2",
    "--keyword=pgettext:1c,2",
    "--keyword=npgettext:1c,2,3",
    "--keyword=pgettext_lazy:1c,2",
    "--keyword=npgettext_lazy:1c,2,3",
]


@pytest.fixture(autouse=True)
def _english_afterwards():
    """The person views activate a language for the thread; later tests expect the default."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def speaks(person):
    def set_language(code: str) -> None:
        person.language = code
        person.save(update_fields=["language"])

    return set_language


def _html(response) -> str:
    return response.content.decode()


# --- Messages ---------------------------------------------------------------------------------


def test_a_chinese_speaker_is_invited_in_chinese(speaks, start_by_email):
    speaks("zh-hans")
    _, link = start_by_email()
    message = mail.outbox[-1]
    assert "请求您的同意" in message.subject and "Winter campaign" in message.subject
    assert "Jane Doe，您好" in message.body
    assert "请在手机上打开此链接" in message.body and link in message.body
    assert "请勿转发" in message.body
    assert "Hello" not in message.body and "consent" not in message.body
    assert isinstance(message, EmailMultiAlternatives)
    html = str(message.alternatives[0][0])
    assert "打开我的同意页面" in html and link in html
    assert (
        translation.get_language() == settings.LANGUAGE_CODE
    )  # the worker's language is unchanged


def test_a_traditional_chinese_speaker_is_invited_in_traditional_chinese(speaks, start_by_email):
    speaks("zh-hant")
    start_by_email()
    message = mail.outbox[-1]
    assert "請求您的同意" in message.subject
    assert "請在手機上開啟此連結" in message.body


def test_an_english_speaker_is_invited_in_english(start_by_email):
    start_by_email()
    assert "asks for your consent" in mail.outbox[-1].subject
    assert "Hello Jane Doe" in mail.outbox[-1].body


# --- Pages ------------------------------------------------------------------------------------


def test_the_link_page_speaks_the_persons_language(speaks, start_by_email, phone):
    speaks("zh-hans")
    _, link = start_by_email()
    page = _html(phone.get(link))
    assert '<html lang="zh-hans">' in page
    assert "请求您的同意" in page and "Winter campaign" in page
    assert "您的肖像将用于什么用途" in page
    assert "您的面部照片、您的视频、您的声音录音" in page  # the list joined the Chinese way
    assert "我同意——继续验证" in page
    assert "请输入您的全名" in page and "我已阅读以上文本，并同意其内容。" in page
    assert "asks for your consent" not in page


def test_the_language_can_be_switched_from_the_page(speaks, start_by_email, phone):
    speaks("zh-hans")
    _, link = start_by_email()
    english = _html(phone.get(f"{link}?lang=en"))
    assert '<html lang="en">' in english
    assert "asks for your consent" in english and "请求您的同意" not in english
    assert 'href="?lang=zh-hans"' in english  # and back again
    traditional = _html(phone.get(f"{link}?lang=zh-hant"))
    assert '<html lang="zh-hant">' in traditional and "請求您的同意" in traditional
    # The choice travels with the form: a mistake is then explained in the language chosen.
    assert '<input type="hidden" name="lang" value="en">' in english
    wrong = phone.post(
        f"{link}consent/", {"signature_name": "Someone", "agree": "on", "lang": "en"}
    )
    assert "exactly as the studio has it" in _html(wrong)


def test_a_traditional_chinese_speaker_reads_traditional_chinese(speaks, start_by_email, phone):
    speaks("zh-hant")
    _, link = start_by_email()
    page = _html(phone.get(link))
    assert '<html lang="zh-hant">' in page
    assert "請求您的同意" in page and "请求您的同意" not in page


def test_an_unknown_link_is_explained_in_the_browsers_language(db, client):
    page = client.get("/p/not-a-real-token/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5")
    assert page.status_code == 404
    assert "此链接无法使用" in _html(page) and "请确认您打开的是消息中的完整链接" in _html(page)
    taiwan = client.get("/p/not-a-real-token/", HTTP_ACCEPT_LANGUAGE="zh-TW")
    assert "此連結無法使用" in _html(taiwan)
    english = client.get("/p/not-a-real-token/", HTTP_ACCEPT_LANGUAGE="en-GB")
    assert "This link does not work" in _html(english)


def test_an_expired_link_is_explained_in_the_persons_language(speaks, start_by_email, client):
    speaks("zh-hans")
    _, link = start_by_email()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        page = client.get(link, HTTP_USER_AGENT=PHONE, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert page.status_code == 410
    assert "此链接已过期" in _html(page) and "为了您的安全" in _html(page)


def test_consent_form_errors_are_in_chinese(speaks, start_by_email, phone):
    speaks("zh-hans")
    _, link = start_by_email()
    wrong = phone.post(f"{link}consent/", {"signature_name": "Someone Else", "agree": "on"})
    assert wrong.status_code == 400
    assert "请按工作室登记的姓名准确输入您的全名：Jane Doe" in _html(wrong)
    unticked = phone.post(f"{link}consent/", {"signature_name": "jane  DOE"})
    assert "请勾选此框，表示您同意。" in _html(unticked)
    empty = phone.post(f"{link}consent/", {"agree": "on"})
    assert "这个字段是必填项。" in _html(empty)  # Django's own catalogue


def test_a_journey_problem_is_told_in_chinese(speaks, start_by_email, phone, account, simulator):
    account.api_token = simulator.aigc_token  # the upstream refuses to start
    account.save()
    speaks("zh-hans")
    _, link = start_by_email()
    refused = phone.post(f"{link}consent/", {"signature_name": "Jane Doe", "agree": "on"})
    assert refused.status_code == 409
    assert "目前无法开始验证。请联系工作室" in _html(refused)


# --- Catalogues -------------------------------------------------------------------------------


def _entries(po: Path) -> list[dict]:
    """A .po file's entries: references, flags, msgctxt, msgid and msgstr (enough for ours)."""
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        entry: dict = {"refs": [], "flags": set(), "obsolete": False}
        field = None
        for line in block.strip().splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
            elif line.startswith("#:"):
                entry["refs"] += [ref.rsplit(":", 1)[0] for ref in line[2:].split()]
            elif line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif match := re.match(
                r"^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) (\".*\")$", line
            ):
                field = match.group(1)
                entry[field] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and field:
                entry[field] += ast.literal_eval(line)
        if "msgid" in entry:
            entries.append(entry)
    return entries


def _placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|%%", text))


@pytest.mark.parametrize("language", CATALOGUES)
def test_every_message_a_person_reads_is_translated(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    entries = [e for e in _entries(po) if e["msgid"] and not e["obsolete"]]
    person_facing = [e for e in entries if any(r.startswith(PERSON_FACING) for r in e["refs"])]
    assert len(person_facing) > 80
    for path in ("templates/person/link.html", "templates/verification/email/invitation.txt"):
        assert any(path in e["refs"] for e in person_facing), path
    untranslated = [
        e["msgid"] for e in person_facing if not e.get("msgstr") or "fuzzy" in e["flags"]
    ]
    assert untranslated == []
    for entry in person_facing:
        assert _placeholders(entry["msgstr"]) == _placeholders(entry["msgid"]), entry["msgid"]


def _person_facing_sources() -> list[Path]:
    base = Path(settings.BASE_DIR)
    found = []
    for entry in PERSON_FACING:
        path = base / entry
        found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [p for p in found if p.suffix in (".html", ".txt", ".py")]


def _extracted_messages(tmp_path: Path) -> list[dict]:
    """Every message the person-facing sources ask to translate, extracted the way makemessages
    does (templates turned into gettext calls, then xgettext), so one missing from the catalogue
    is found, not only one left empty in it."""
    import shutil
    import subprocess

    from django.utils.translation.template import templatize

    if not shutil.which("xgettext"):
        pytest.fail("This test needs GNU gettext's xgettext: apt-get install -y gettext")
    base = Path(settings.BASE_DIR)
    inputs = []
    for source in _person_facing_sources():
        relative = source.relative_to(base).as_posix()
        text = source.read_text(encoding="utf-8")
        copy = tmp_path / relative  # under its own name, so references read as in the catalogue
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(
            text if source.suffix == ".py" else templatize(text, origin=relative), encoding="utf-8"
        )
        inputs.append(relative)
    pot = tmp_path / "person.pot"
    command = ["xgettext", "--language=Python", "--from-code=UTF-8", "--output=person.pot"]
    subprocess.run(
        [*command, *XGETTEXT_KEYWORDS, *inputs],
        check=True,
        cwd=tmp_path,
    )
    return [e for e in _entries(pot) if e["msgid"]]


@pytest.mark.parametrize("language", CATALOGUES)
def test_no_message_a_person_reads_is_missing_from_the_catalogue(language, tmp_path):
    folder = LOCALE / language / "LC_MESSAGES"
    with (folder / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    known = compiled._catalog  # type: ignore[attr-defined]
    messages = _extracted_messages(tmp_path)
    assert len(messages) > 100
    missing = []
    for entry in messages:
        key = (
            entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
        )
        if "msgid_plural" in entry:
            key = (key, 0)
        if not known.get(key):
            missing.append(entry["msgid"])
    assert missing == [], "\n".join(missing)


TRANSLATION_CALLS = {"_", "gettext", "gettext_lazy", "pgettext", "ngettext"}


def test_no_message_a_person_reads_is_built_inside_an_f_string():
    """makemessages can't see a translation call inside an f-string: its words would stay English."""
    hidden = []
    for path in Path(settings.BASE_DIR).glob("**/*.py"):
        relative = path.relative_to(settings.BASE_DIR).as_posix()
        if not relative.startswith(PERSON_FACING):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                hidden += [
                    f"{relative}:{call.lineno}"
                    for call in ast.walk(node)
                    if isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id in TRANSLATION_CALLS
                ]
    assert hidden == []


@pytest.mark.parametrize("language", CATALOGUES)
def test_the_compiled_catalogue_matches_its_source(language):
    folder = LOCALE / language / "LC_MESSAGES"
    with (folder / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for entry in _entries(folder / "django.po"):
        if not entry["msgid"] or entry["obsolete"] or not entry.get("msgstr"):
            continue
        if "fuzzy" in entry["flags"]:
            continue
        if "msgctxt" in entry:
            found = compiled.pgettext(entry["msgctxt"], entry["msgid"])
        else:
            found = compiled.gettext(entry["msgid"])
        assert found == entry["msgstr"], f"{entry['msgid']!r}: run compilemessages"


def test_a_persons_language_does_not_leak_into_the_next_request(
    phone, start_by_email, person, staff_client
):
    from django.utils import translation

    person.language = "zh-hans"
    person.save()
    _, link = start_by_email()
    phone.get(link)
    assert translation.get_language() in (None, "en", "en-us")
    assert b'lang="en"' in staff_client.get("/").content

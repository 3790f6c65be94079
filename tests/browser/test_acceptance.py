"""Acceptance: the person's whole journey on a phone, in each shipped language.

From the invitation to withdrawal — a wrong name first, a language switched and switched back,
consent, the upstream's liveness page, the success page, their page, an upload, withdrawal — every
page of the portal's own is judged: no English word left on a Chinese page (visible text,
labels, and the uploader's word list), no 4xx or 5xx answer but the one a refused form gives, no
console error and no CSP violation.
"""

import re
import threading

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from tests.browser.test_upload import payload
from tests.journey import LINK, run_pending_invitations
from verification import services
from verification.models import ConsentText, Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STUDIO = "Lumen Pictures"
# What the pages rightly show in Latin letters whatever the language: names the studio and the
# person chose, file formats and units, the receipt formats, the language menu's own names.
LATIN_WORDS = {
    *STUDIO.split(),
    "Jane",
    "Doe",
    "PDF",
    "JSON",
    "SHA",
    "UTC",
    "KB",
    "MB",
    "GB",
    "MP",
    "px",
    "fps",
    "Hz",
    "JPEG",
    "PNG",
    "WebP",
    "HEIC",
    "GIF",
    "MP4",
    "MOV",
    "MP3",
    "WAV",
    "English",
    "selfie",
    "jpg",
}
# Per language: the project and the consent text, written in that language as a studio would.
CONTENT = {
    "en": ("Spring campaign", "Short video ads, shown online.", "Consent", "I agree."),
    "zh-hans": (
        "春季广告",
        "在线播放的短视频广告。",
        "肖像使用同意书",
        "本人同意工作室在上述项目中使用我的面部、视频和声音。",
    ),
    "zh-hant": (
        "春季廣告",
        "在線上播放的短影片廣告。",
        "肖像使用同意書",
        "本人同意工作室在上述專案中使用我的面部、影片和聲音。",
    ),
}
# The step's heading in each language, to know the page arrived.
HEADINGS = {
    "en": {"done": "Done: you are verified", "verified": "You are verified", "gone": "withdrawn"},
    "zh-hans": {"done": "完成：您已通过验证", "verified": "您已通过验证", "gone": "撤回"},
    "zh-hant": {"done": "完成：您已通過驗證", "verified": "您已通過驗證", "gone": "撤回"},
}
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
TEXT_OF_PAGE = """() => {
  const parts = [document.title, document.body.innerText];
  for (const node of document.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      if (node.getAttribute(name)) parts.push(node.getAttribute(name));
    }
  }
  for (const template of document.querySelectorAll("template")) {
    parts.push(template.content.textContent);
  }
  return parts.join("\\n");
}"""


class Judge:
    """Collects what the portal's pages did wrong while the person walks through them."""

    def __init__(self, page: Page, portal_url: str, language: str, console_errors) -> None:
        self.page, self.portal_url, self.language = page, portal_url, language
        self.problems: list[str] = []
        self.console_errors = console_errors
        self.allowed_refusals = 0
        self.refused_urls: list[str] = []
        page.add_init_script(WATCH_CSP)
        page.on("response", self._on_response)

    def _on_response(self, response) -> None:
        if not response.url.startswith(self.portal_url) or response.status < 400:
            return
        if (
            response.status == 400
            and response.request.method == "POST"
            and response.url.endswith("/consent/")
            and self.allowed_refusals
        ):
            self.allowed_refusals -= 1  # the refused form: its errors are the page
            self.refused_urls.append(response.url)
            return
        self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def check(self, where: str) -> None:
        """Judge the page now showing, if it is one of the portal's own."""
        if not self.page.url.startswith(self.portal_url):
            return
        csp = self.page.evaluate("window.__csp || []")
        self.problems += [f"{where}: CSP {violation}" for violation in csp]
        if self.language != "en":
            text = self.page.evaluate(TEXT_OF_PAGE)
            text = re.sub(r"\b[0-9a-f]{6,}\b", " ", text)  # hashes and ids
            text = re.sub(r"\{\w+\}", " ", text)  # the uploader's placeholders
            text = re.sub(r"https?://\S+", " ", text)
            english = sorted({word for word in re.findall(r"[A-Za-z]{2,}", text)} - LATIN_WORDS)
            if english:
                self.problems.append(f"{where}: untranslated {english}")

    def verdict(self) -> list[str]:
        # Chromium logs every 4xx document as a failed resource: the allowed refusal's line goes.
        ours = [
            error
            for error in self.console_errors.errors
            if self.portal_url in error
            and not any(f"status of 400 (Bad Request) {url}" in error for url in self.refused_urls)
        ]
        return self.problems + [f"console: {error}" for error in ours]


@pytest.fixture
def sweeping(worker):
    """What celery beat does meanwhile for uploads: the asset status sweep, every second."""
    from assets.tasks import sweep_processing

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            sweep_processing.delay()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.mark.parametrize("language", ["en", "zh-hans", "zh-hant"])
def test_the_persons_journey_on_a_phone_in_each_language(
    language,
    portal,
    sweeping,
    simulator,
    account,
    person,
    staff_user,
    phone_browser,
    console_errors,
    media,
    settings,
):
    settings.STUDIO_NAME = STUDIO
    simulator.control("POST", "switches", json={"processing_seconds": 0})
    person.language = language
    person.save()
    name, use, title, body = CONTENT[language]
    project = Project.objects.create(name=name, intended_use=use)
    text = ConsentText.objects.create(title=title, version="1", language=language, body=body)
    services.start_session(
        person=person,
        account_id=account.pk,
        project=project,
        consent_text=text,
        media_kinds=["image", "video", "audio"],
        channel="email",
        user=staff_user,
    )
    run_pending_invitations()
    found = LINK.search(str(mail.outbox[-1].body))
    assert found, mail.outbox[-1].body
    link = f"{portal.url}{found.group(1)}"

    page = console_errors(phone_browser.new_page())
    judge = Judge(page, portal.url, language, console_errors)
    page.goto(link)
    expect(page.get_by_text(body)).to_be_visible()
    judge.check("link page")

    # A wrong name: the form comes back with its errors in view and read out.
    judge.allowed_refusals = 1
    page.locator("#id_signature_name").fill("Someone Else")
    page.locator("#id_agree").check()
    page.locator("form[action$='/consent/'] button[type=submit]").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    judge.check("refused consent")

    # Another language from the refused form's page, then back to theirs: no 405 on the way.
    other = "en" if language != "en" else "zh-hans"
    page.locator(f".nav a[lang='{other}']").click()
    expect(page.locator("html")).to_have_attribute("lang", other)
    page.locator(f".nav a[lang='{language}']").click()
    expect(page.locator("html")).to_have_attribute("lang", language)
    judge.check("language switched back")

    page.locator("#id_signature_name").fill("Jane Doe")
    page.locator("#id_agree").check()
    page.locator("form[action$='/consent/'] button[type=submit]").click()

    # The upstream's liveness page (the simulator's), in the person's language.
    page.wait_for_url(f"{simulator.url}/**")
    expected_lng = {"en": "en", "zh-hans": "zh", "zh-hant": "zh-Hant"}[language]
    assert f"lng={expected_lng}" in page.url
    page.locator("#person").fill("Jane Doe")
    page.locator("button.complete").click()

    page.wait_for_url(f"{portal.url}/verified/**")
    expect(page.get_by_role("heading", name=HEADINGS[language]["done"])).to_be_visible()
    judge.check("success page")
    page.locator("#outcome a.button.primary").click()
    expect(page.get_by_role("heading", name=HEADINGS[language]["verified"])).to_be_visible()
    judge.check("verified page")

    page.locator("a[href$='/upload/']").click()
    page.locator('input[type="file"]').set_input_files(
        [payload("selfie.jpg", media.image((800, 1000)))]
    )
    upload_card = page.locator('.upload-card[data-name="selfie.jpg"]')
    expect(upload_card).to_have_attribute("data-status", "active", timeout=30_000)
    judge.check("upload page")
    page.reload()
    judge.check("upload page, reloaded")

    page.locator("p > a[href$='/']").first.click()  # the way back
    page.locator("#your-consent a.danger").click()
    judge.check("withdraw page")
    page.locator("form[action$='/withdraw/'] button[type=submit]").click()
    expect(page.locator("#withdrawn")).to_be_visible()
    judge.check("withdrawn page")
    page.locator("#withdrawn a.button").click()
    expect(page.locator("#withdrawn-state")).to_be_visible()
    judge.check("their page after withdrawal")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    problems = judge.verdict()
    assert problems == [], "\n".join(problems)

"""The person's pages as a newcomer meets them: where they are in three steps, the studio's own
look, a way back from every page, words instead of codes, and true states after withdrawal."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from assets.models import Asset
from tests.journey import callback_path, consent_and_start, latest_attempt
from verification import receipts, services, withdrawal
from verification.models import Consent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    translation.activate("en")


@pytest.fixture
def person_link(verified_group, staff_user) -> str:
    return services.show_link(session=verified_group.session, user=staff_user).removeprefix(
        "http://127.0.0.1:8000"
    )


def _send(phone, link, name, data):
    return phone.post(
        f"{link}upload/",
        {"files": SimpleUploadedFile(name, data)},
        headers={"Accept": "application/json"},
    )


def test_each_page_shows_the_step_the_person_is_at(start_by_email, phone, simulator):
    session, link = start_by_email()
    assert 'aria-current="step">Consent' in phone.get(link).content.decode()
    consent_and_start(phone, link)
    assert 'aria-current="step">Verify' in phone.get(link).content.decode()
    done = phone.get(callback_path(simulator.complete(latest_attempt(session).byted_token)))
    assert 'aria-current="step">Done' in done.content.decode()


def test_the_success_page_leads_to_the_persons_page(start_by_email, phone, simulator):
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    done = phone.get(callback_path(simulator.complete(latest_attempt(session).byted_token)))
    page = done.content.decode()
    assert f'href="{link}"' in page and "Go to your page" in page
    assert "You can close this page" not in page


def test_a_success_page_in_another_browser_has_no_link_to_guess(start_by_email, phone, simulator):
    from django.test import Client

    from tests.journey import PHONE

    session, link = start_by_email()
    consent_and_start(phone, link)
    url = callback_path(simulator.complete(latest_attempt(session).byted_token))
    other = Client(HTTP_USER_AGENT=PHONE).get(url).content.decode()
    assert link not in other and "opens from the link in your message" in other


def test_the_studios_name_logo_and_colour_come_from_settings(start_by_email, phone, settings):
    settings.STUDIO_NAME = "Lumen Pictures"
    settings.STUDIO_LOGO_URL = "/static/favicon.svg"
    settings.STUDIO_ACCENT_COLOR = "#aa3300"
    _, link = start_by_email()
    page = phone.get(link).content.decode()
    assert "Lumen Pictures asks for your consent" in page
    assert 'src="/static/favicon.svg"' in page and 'href="/studio.css"' in page
    css = phone.get("/studio.css")
    assert css["Content-Type"].startswith("text/css") and b"--accent: #aa3300" in css.content


def test_the_upload_page_has_a_way_back_and_names_formats_in_words(phone, person_link):
    page = phone.get(f"{person_link}upload/").content.decode()
    assert f'href="{person_link}"' in page and "Back to your page" in page
    limits = page[page.index('id="uploader-limits"') :]
    limits = limits[: limits.index("</ul>")]
    assert "JPEG" in limits and "HEIC" in limits and "WebP" in limits
    for raw in ("HIF", "JPE,", "JFIF", "M4V", "WAVE"):
        assert raw not in limits, raw


def test_the_person_never_sees_upstream_ids(phone, person_link, media, verified_group):
    response = _send(phone, person_link, "me.jpg", media.image((800, 1000)).read_bytes())
    body = response.json()["assets"][0]
    Asset.objects.filter(pk=body["id"]).update(status="active", upstream_id="asset-123")
    status = phone.get(body["status_url"]).json()
    assert status["asset_uri"] == "" and status["status_label"] == "Ready"
    assert "asset-123" not in phone.get(f"{person_link}upload/").content.decode()
    assert "asset-123" not in phone.get(person_link).content.decode()


def test_what_you_sent_lists_only_the_persons_own_files(
    phone, person_link, media, verified_group, staff_client
):
    from tests.assets.test_intake import upload

    upload(staff_client, verified_group, media.image((800, 1000)), "staff-test.jpg")
    _send(phone, person_link, "mine.jpg", media.image((800, 1000)).read_bytes())
    sent = phone.get(f"{person_link}upload/").content.decode()
    sent = sent[sent.index('id="what-you-sent"') :]
    assert "mine.jpg" in sent and "staff-test.jpg" not in sent


def test_a_refused_attempt_can_be_dismissed_and_is_not_held(phone, person_link, verified_group):
    refused = _send(phone, person_link, "notes.jpg", b"not an image at all" * 20)
    assert refused.status_code == 422
    asset = Asset.objects.get(original_name="notes.jpg")
    assert asset.status == "rejected"
    page = phone.get(f"{person_link}upload/").content.decode()
    assert "notes.jpg" in page and f"assets/{asset.pk}/dismiss/" in page
    assert "notes.jpg" not in phone.get(person_link).content.decode()  # not "your files"
    consent = Consent.objects.get(session=verified_group.session)
    assert [a["name"] for a in receipts.build_receipt(consent)["assets"]] == []
    dismissed = phone.post(f"{person_link}assets/{asset.pk}/dismiss/")
    assert dismissed.status_code == 302
    assert "notes.jpg" not in phone.get(f"{person_link}upload/").content.decode()
    from ledger.models import AuditEvent

    assert AuditEvent.objects.filter(action="asset.deleted", subject_id=str(asset.pk)).exists()


def test_only_a_refused_attempt_can_be_dismissed(phone, person_link, media):
    body = _send(phone, person_link, "me.jpg", media.image((800, 1000)).read_bytes()).json()
    assert phone.post(f"{person_link}assets/{body['assets'][0]['id']}/dismiss/").status_code == 404
    assert Asset.objects.get(pk=body["assets"][0]["id"]).status != "deleted"


def test_after_withdrawal_the_pages_say_so(phone, person_link, verified_group):
    consent = Consent.objects.get(session=verified_group.session)
    withdrawal.withdraw_consent(consent=consent, actor=withdrawal.Actor.system(), request=None)
    page = phone.get(person_link).content.decode()
    assert "You withdrew your consent" in page
    assert "You are verified" not in page and "Add photos, videos or voice" not in page
    upload = phone.get(f"{person_link}upload/").content.decode()
    assert "You withdrew this consent on" in upload
    assert "doesn" not in upload and 'name="files"' not in upload


def test_a_wrong_name_brings_an_announced_summary(start_by_email, phone):
    _, link = start_by_email()
    wrong = phone.post(f"{link}consent/", {"signature_name": "Someone Else", "agree": "on"})
    page = wrong.content.decode()
    assert 'role="alert" tabindex="-1" data-error-summary' in page
    assert 'href="#id_signature_name"' in page
    assert 'aria-invalid="true"' in page

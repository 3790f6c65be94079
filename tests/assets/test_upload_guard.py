"""Upload bodies are read only once the sender, the declared size and the CSRF token were checked:
a refused body costs the server at most a peek at its first part (issue 12)."""

import pytest
from django.test import Client
from django.utils import timezone

from assets import uploads
from assets.models import Asset
from tests.security.people import make_invited, make_verified
from tests.upload_bodies import Body, csrf_token, field, file_head, one_file, post, two_files

pytestmark = pytest.mark.django_db
MB = 1_000_000


@pytest.fixture
def alice(account, project, consent_text, staff_user):
    return make_verified(
        "Alice Example",
        account=account,
        project=project,
        consent_text=consent_text,
        staff_user=staff_user,
    )


@pytest.fixture
def carol_link(account, project, consent_text, staff_user):
    return make_invited(
        "Carol Example",
        account=account,
        project=project,
        consent_text=consent_text,
        staff_user=staff_user,
    )


def staff_url(alice) -> str:
    return f"/groups/{alice.group.pk}/upload/"


def person_url(alice) -> str:
    return f"/p/{alice.token}/upload/"


def browser() -> Client:
    """A client that enforces CSRF as production does, with the CSRF cookie a browser that ever
    opened a portal page has (the middleware looks for a token in the body only then)."""
    client = Client(enforce_csrf_checks=True)
    client.cookies.load({"csrftoken": "a" * 32})
    return client


def test_a_stranger_sending_200_mb_costs_no_read(alice):
    client = browser()
    body = two_files(100 * MB)
    response = post(client, staff_url(alice), body)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert body.read_bytes == 0


def test_signed_in_but_not_staff_costs_no_read(alice):
    from django.contrib.auth import get_user_model

    member = get_user_model().objects.create_user(username="member", password="x" * 16)
    client = browser()
    client.force_login(member)
    body = one_file(40 * MB)
    assert post(client, staff_url(alice), body).status_code == 403
    assert body.read_bytes == 0


def test_an_unknown_link_costs_no_read(alice):
    body = two_files(100 * MB)
    assert post(browser(), "/p/not-a-real-token-at-all-0123456789/upload/", body).status_code == 404
    assert body.read_bytes == 0


@pytest.mark.parametrize("who", ["staff", "person"])
def test_a_declared_length_over_one_file_is_refused_before_reading(staff_client, phone, alice, who):
    client, url = (staff_client, staff_url(alice)) if who == "staff" else (phone, person_url(alice))
    body = one_file(uploads.largest_file_bytes() + uploads.ENVELOPE_BYTES)
    response = post(client, url, body)
    assert response.status_code == 413
    assert response.json()["error"] == uploads.too_large_text()
    assert "50 MB" in response.json()["error"]
    assert body.read_bytes == 0
    # Declaring 300 MB and sending 1 MB is refused the same way, at once.
    lying = one_file(MB, declared=300 * MB)
    assert post(client, url, lying).status_code == 413 and lying.read_bytes == 0


def test_the_docs_name_the_same_limit_as_the_refusal():
    from pathlib import Path

    install = (Path(__file__).parents[2] / "docs" / "install.md").read_text()
    assert "50 MB" in uploads.too_large_text()
    assert "one upload may be at most 50 MB" in install
    assert "client_max_body_size 51m" in install


def test_a_body_without_a_length_is_refused_unread(staff_client, alice):
    body = one_file(MB)
    environ = body.environ()
    del environ["CONTENT_LENGTH"]
    response = staff_client.generic(
        "POST", staff_url(alice), headers={"Accept": "application/json"}, **environ
    )
    assert response.status_code == 411 and body.read_bytes == 0


@pytest.mark.parametrize("who", ["staff", "person"])
def test_without_a_valid_csrf_token_the_body_is_not_read(staff_user, alice, who):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.7")
    if who == "staff":
        client.force_login(staff_user)
        url, page = staff_url(alice), f"/groups/{alice.group.pk}/"
    else:
        url, page = person_url(alice), person_url(alice)
    token = csrf_token(client, page)
    missing = one_file(20 * MB)
    assert post(client, url, missing).status_code == 403
    assert missing.read_bytes <= uploads.PEEK_BYTES
    forged = one_file(20 * MB)
    assert post(client, url, forged, **{"X-CSRFToken": "x" * 64}).status_code == 403
    assert forged.read_bytes == 0
    # The right token in the first field, as the plain form sends it, lets the body be read.
    good = one_file(1000, token=token)
    response = post(client, url, good)
    assert response.status_code == 422, response.content  # checked, and refused for its content
    assert good.read_bytes == good.length
    assert Asset.objects.filter(status=Asset.Status.REJECTED).count() == 1


@pytest.mark.parametrize("who", ["staff", "person"])
def test_a_second_file_is_refused_and_nothing_is_kept(staff_client, phone, alice, who, tmp_path):
    client, url = (staff_client, staff_url(alice)) if who == "staff" else (phone, person_url(alice))
    before = Asset.objects.count()
    body = two_files(100_000)
    response = post(client, url, body)
    assert response.status_code == 400 and "one file" in response.json()["error"]
    assert Asset.objects.count() == before
    # The second part was not read beyond its start.
    assert body.read_bytes < body.length - 100_000 + 1024 * 1024


def test_the_whole_body_is_counted_not_each_file(staff_client, alice, settings):
    settings.ASSET_UPLOAD_MAX_BYTES = 300_000
    # Fields before the file can't smuggle more than the envelope either: the length is checked.
    body = Body(field("consent", "x" * 200_000), file_head("files", "a.mp4"), 200_000, b"\r\n")
    response = post(staff_client, staff_url(alice), body)
    assert response.status_code == 413 and body.read_bytes == 0


def test_a_body_that_ends_early_is_cut_off(staff_client, alice):
    # Sends 1 MB of the 5 it declared, then stops.
    body = Body(file_head("files", "clip.mp4"), MB, declared=5 * MB)
    response = post(staff_client, staff_url(alice), body)
    assert response.status_code == 408 and "stopped arriving" in response.json()["error"]
    assert Asset.objects.filter(group=alice.group).count() == 1  # only the fixture's


def test_reading_before_admission_is_a_bug_caught_loudly(rf):
    request = rf.post("/", data=b"x" * 10, content_type="multipart/form-data; boundary=b")
    uploads.GuardedBody.install(request)
    with pytest.raises(RuntimeError, match="before the upload was admitted"):
        request.read()


def test_a_link_uploads_at_most_its_hourly_share(phone, alice, settings):
    settings.PERSON_UPLOADS_PER_HOUR = 3
    consent = alice.session.consents.get()
    for n in range(3):
        Asset.objects.create(
            group=alice.group,
            kind="image",
            status=Asset.Status.REJECTED,
            original_name=f"{n}.jpg",
            upstream_name=f"sitter-limit-{n}",
            size_bytes=4,
            sha256="0" * 64,
            consent=consent,
            uploaded_by_person=True,
            created_at=timezone.now(),
        )
    body = one_file(MB)
    response = post(phone, person_url(alice), body)
    assert response.status_code == 429 and body.read_bytes == 0
    assert "3 files in the last hour" in response.json()["error"]
    # In the person's language too.
    alice.person.language = "zh-hans"
    alice.person.save(update_fields=["language"])
    answer = post(phone, person_url(alice), one_file(MB)).json()["error"]
    assert "3" in answer and "files" not in answer


def test_an_error_page_does_not_read_the_body_either(staff_user, alice, carol_link):
    """Django's 403 and 404 pages run the CSRF token lookup, which parses the body (when there is
    a CSRF cookie: a browser that ever opened a page of the portal has one)."""
    cookie = {"csrftoken": "a" * 32}
    client = Client(enforce_csrf_checks=True)
    client.cookies.load(cookie)
    client.force_login(staff_user)
    body = one_file(20 * MB)
    assert post(client, "/groups/999999/upload/", body).status_code == 404
    assert body.read_bytes == 0
    token, _ = carol_link  # invited, not verified: no uploads yet
    phone = Client(enforce_csrf_checks=True)
    phone.cookies.load(cookie)
    body = one_file(20 * MB)
    assert post(phone, f"/p/{token}/upload/", body).status_code == 404
    assert body.read_bytes == 0
    from django.contrib.auth import get_user_model

    member = get_user_model().objects.create_user(username="member", password="x" * 16)
    outsider = Client(enforce_csrf_checks=True)
    outsider.cookies.load(cookie)
    outsider.force_login(member)
    body = one_file(20 * MB)
    assert post(outsider, staff_url(alice), body).status_code == 403
    assert body.read_bytes == 0


def test_a_malformed_body_is_explained_not_a_server_error(staff_client, alice):
    from tests.upload_bodies import BOUNDARY

    oversized_headers = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="a.mp4"\r\n'
        f"X-Padding: {'x' * 20_000}\r\n\r\n"
    ).encode()
    body = Body(oversized_headers, 1000, b"\r\n", f"--{BOUNDARY}--\r\n".encode())
    response = post(staff_client, staff_url(alice), body)
    assert response.status_code == 400 and "could not be read" in response.json()["error"]


@pytest.mark.parametrize("page", ["/login/", "person consent", "person start", "/persons/new/"])
def test_a_large_body_to_any_other_page_is_refused_unread(staff_user, alice, page):
    """Only the upload endpoints take files: the CSRF check of any other POST would otherwise
    parse (and spool to disk) a multipart body of any size looking for its token."""
    client = browser()
    if page == "/persons/new/":
        client.force_login(staff_user)
    path = {
        "person consent": f"/p/{alice.token}/consent/",
        "person start": f"/p/{alice.token}/start/",
    }
    body = two_files(25 * MB)
    response = post(client, path.get(page, page), body)
    assert response.status_code == 413 and body.read_bytes == 0

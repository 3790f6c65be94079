"""Cases the fuzz suite (tests/fuzz, `pytest -m fuzz`) found, kept as fast, exact reproductions."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError

from assets.models import Asset
from tests.media.test_fuzz import mutate, seed

pytestmark = pytest.mark.django_db
ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.mark.xfail(
    strict=True,
    raises=(ValueError, DataError),
    reason="assets/media/boxes.py quotes a damaged box's type raw (kind.decode('latin-1')) into "
    "the problem message; with a NUL byte in it, PostgreSQL refuses the Asset row (DataError) "
    "and on SQLite ledger.payloads.clean_text refuses the asset.rejected event (ValueError): the "
    "upload ends in a 500 instead of a refusal in words",
)
def test_a_heic_with_a_nul_in_a_box_type_is_refused_in_words(staff_client, verified_group, media):
    damaged = mutate(seed(media, "heic"), [("flip", 31, 1)])  # 'mdat' → '\x00mda…'
    response = staff_client.post(
        f"/groups/{verified_group.pk}/upload/",
        {"files": SimpleUploadedFile("portrait.heic", damaged)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 422
    asset = Asset.objects.get()
    assert asset.status == Asset.Status.REJECTED and "damaged" in asset.error_message


@pytest.mark.xfail(
    ON_POSTGRESQL,
    strict=True,
    raises=DataError,
    reason="person.callback and person.retry look the ref up as given; a NUL in it (%00 in the "
    "URL) reaches PostgreSQL, which refuses it (DataError, a 500). Refuse refs that are not "
    "URL-safe base64 before the query (a path converter, or a fullmatch check → 404).",
)
@pytest.mark.parametrize(
    ("method", "path"), [("get", "/verified/{}/"), ("post", "/verified/{}/retry/")]
)
def test_a_callback_ref_with_a_nul_is_not_found(client, method, path):
    response = getattr(client, method)(path.format("ref%00ref"))
    assert response.status_code == 404


@pytest.mark.xfail(
    ON_POSTGRESQL,
    strict=True,
    raises=DataError,
    reason="verification.views.staff.person_list filters with icontains on the raw `q`; a NUL "
    "in it reaches PostgreSQL, which refuses it (DataError, a 500). Strip or refuse NUL first.",
)
def test_a_person_search_with_a_nul_answers(staff_client, person):
    assert staff_client.get("/persons/", {"q": "Jane\x00"}).status_code == 200

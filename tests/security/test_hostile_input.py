"""Cases the fuzz suite (tests/fuzz, `pytest -m fuzz`) found, kept as fast, exact reproductions."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Asset
from tests.media.test_fuzz import mutate, seed

pytestmark = pytest.mark.django_db
ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


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


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/verified/{}/"), ("post", "/verified/{}/retry/")]
)
def test_a_callback_ref_with_a_nul_is_not_found(client, method, path):
    response = getattr(client, method)(path.format("ref%00ref"))
    assert response.status_code == 404


def test_a_person_search_with_a_nul_answers(staff_client, person):
    assert staff_client.get("/persons/", {"q": "Jane\x00"}).status_code == 200

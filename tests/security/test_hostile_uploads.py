"""Cases the fuzz suite (tests/fuzz, `-m fuzz`) found, kept here as fast, exact reproductions."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Asset
from tests.media.test_fuzz import mutate, seed

pytestmark = pytest.mark.django_db


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="assets/media/boxes.py quotes a damaged box's type raw (kind.decode('latin-1')) into "
    "the problem message; a NUL byte there makes ledger.payloads.clean_text refuse the "
    "asset.rejected event, so the upload ends in a 500 instead of a refusal in words",
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

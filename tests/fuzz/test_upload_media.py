"""Real media, damaged, through the whole staff upload endpoint (forwarding inline): each file is
accepted, or refused with its reasons in words; never a 500, never a half-kept file."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import event, given
from hypothesis import strategies as st

from assets.models import Asset
from ledger.models import AuditEvent
from tests.fuzz.conftest import examples, files_under, rolled_back
from tests.media.test_fuzz import SEEDS, mutate, mutation, seed

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

EXTENSIONS = {"jpeg": "jpg", "heic": "heic", "mov": "mov", "mp4": "mp4", "wav": "wav", "mp3": "mp3"}


@examples(2.0)
@given(
    kind=st.sampled_from(SEEDS),
    steps=st.lists(mutation, min_size=0, max_size=4),
    misnamed=st.booleans(),
)
def test_damaged_media_is_accepted_or_refused_in_words(
    staff_client, alice, media, settings, kind, steps, misnamed
):
    settings.ASSET_FORWARDING_MODE = "inline"
    data = mutate(seed(media, kind), steps) if steps else seed(media, kind)
    name = f"upload.{'png' if misnamed else EXTENSIONS.get(kind, kind)}"
    with rolled_back():
        media_root = Path(django_settings.MEDIA_ROOT)
        before = files_under(media_root)
        response = staff_client.post(
            f"/groups/{alice.group.pk}/upload/",
            {"files": SimpleUploadedFile(name, data)},
            headers={"Accept": "application/json"},
        )
        event(f"{kind}: HTTP {response.status_code}")
        assert response.status_code in (201, 422), response.content
        asset = Asset.objects.get(pk=response.json()["assets"][0]["id"])
        kept = files_under(media_root) - before
        if response.status_code == 201:
            assert asset.status == Asset.Status.VALIDATED
            assert asset.kind in ("image", "video", "audio") and asset.content_type
            assert kept == {Path(asset.file.path)} and Path(asset.file.path).stat().st_size
            assert AuditEvent.objects.filter(action="asset.received", subject_id=str(asset.pk))
        else:
            assert asset.status == Asset.Status.REJECTED
            assert asset.error_message and asset.error_message[0].isupper()
            assert not asset.file and not kept, "a refused file's bytes were kept"
            assert AuditEvent.objects.filter(action="asset.rejected", subject_id=str(asset.pk))
        for problem in asset.warnings:
            assert problem["message"], problem

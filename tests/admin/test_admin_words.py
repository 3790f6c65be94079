"""The admin speaks as the rest of the portal: persons, ids as staff copy them, help in words."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from assets.models import Asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(settings) -> Client:
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "x" * 16)
    client = Client()
    client.force_login(admin)
    return client


def _admin(settings, path: str) -> str:
    return f"/{settings.ADMIN_PATH}{path}"


def test_persons_are_called_persons(admin_client, settings):
    page = admin_client.get(_admin(settings, "")).content.decode()
    assert ">Persons<" in page and "Authorizing" not in page


def test_an_asset_is_found_by_its_asset_uri(admin_client, settings, verified_group):
    asset = Asset.objects.create(
        group=verified_group,
        kind="image",
        original_name="me.jpg",
        upstream_id="asset-0123abc",
        size_bytes=1,
        sha256="0" * 64,
    )
    page = admin_client.get(_admin(settings, "assets/asset/"), {"q": "asset://asset-0123abc"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [asset]


def test_a_person_is_found_by_their_upstream_group_id(admin_client, settings, verified_group):
    page = admin_client.get(
        _admin(settings, "verification/authorizingperson/"), {"q": verified_group.upstream_id}
    )
    assert list(page.context["cl"].result_list) == [verified_group.person]


def test_help_texts_speak_in_words(admin_client, settings, project):
    page = admin_client.get(_admin(settings, f"verification/project/{project.pk}/change/"))
    assert "RETENTION_PROJECT_CLOSED_DAYS" not in page.content.decode()
    person_page = admin_client.get(_admin(settings, "verification/authorizingperson/add/"))
    assert "E.164" not in person_page.content.decode()

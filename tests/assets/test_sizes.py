"""One unit system for sizes: the staff group page writes them as the uploader script does."""

import re

import pytest

from assets.templatetags.sizes import decimal_size

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1_500, "2 KB"),
        (999_499, "999 KB"),
        (1_000_000, "1 MB"),
        (1_250_000, "1.3 MB"),
        (43_800_000, "43.8 MB"),
        (52_428_800, "52.4 MB"),  # 50 MiB: filesizeformat would say "50.0 MB"
    ],
)
def test_sizes_are_decimal_as_the_uploader_writes_them(size, shown):
    assert decimal_size(size) == shown


def test_the_group_page_uses_the_same_units(staff_client, verified_group, media):
    from tests.assets.test_intake import upload

    path = media.image((800, 1000))
    upload(staff_client, verified_group, path, "me.jpg")
    page = staff_client.get(f"/groups/{verified_group.pk}/").content.decode()
    assert re.search(rf"\b{re.escape(decimal_size(path.stat().st_size))}\b", page)
    assert "KiB" not in page

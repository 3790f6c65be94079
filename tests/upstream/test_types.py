from datetime import UTC, datetime

import pytest

from upstream.results import parse_time
from upstream.types import AssetStatus, VerificationResult, VerificationStart


@pytest.mark.parametrize(
    ("link", "lng", "expected"),
    [
        ("https://h5.example/v?token=abc", "en", "https://h5.example/v?token=abc&lng=en"),
        (
            "https://h5.example/v?lng=zh&token=abc",
            "zh-Hant",
            "https://h5.example/v?token=abc&lng=zh-Hant",
        ),
        ("https://h5.example/v", "zh-hans", "https://h5.example/v?lng=zh"),
        ("https://h5.example/v#/start", "zh-TW", "https://h5.example/v?lng=zh-Hant#/start"),
        ("https://h5.example/v", "fr", "https://h5.example/v?lng=en"),
        ("https://h5.example/v?sig=a%2Fb+c&x=", "en", "https://h5.example/v?sig=a%2Fb+c&x=&lng=en"),
    ],
)
def test_h5_link_for_language_sets_lng(link, lng, expected):
    start = VerificationStart(byted_token="t", h5_link=link, callback_url="https://p/cb")
    assert start.h5_link_for_language(lng) == expected


def test_a_result_is_finished_once_it_has_a_group():
    assert not VerificationResult("t", "").finished
    assert VerificationResult("t", "group-20260520163350-ctpqc").finished


@pytest.mark.parametrize(
    ("value", "terminal", "active", "failed"),
    [
        ("Processing", False, False, False),
        ("Active", True, True, False),
        ("Failed", True, False, True),
        ("Inactive", True, False, False),
        ("Quarantined", False, False, False),
    ],
)
def test_asset_statuses(value, terminal, active, failed):
    status = AssetStatus.parse(value)
    assert (status.is_terminal, status.is_active, status.is_failed) == (terminal, active, failed)
    assert str(status) == value


def test_unknown_statuses_are_logged(caplog):
    AssetStatus.parse("Quarantined")
    assert "Quarantined" in caplog.text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1779294830, datetime(2026, 5, 20, 16, 33, 50, tzinfo=UTC)),
        (1779294830000, datetime(2026, 5, 20, 16, 33, 50, tzinfo=UTC)),
        ("2026-05-20T16:33:50Z", datetime(2026, 5, 20, 16, 33, 50, tzinfo=UTC)),
        ("2026-05-20 16:33:50", datetime(2026, 5, 20, 16, 33, 50, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_upstream_times(raw, expected):
    assert parse_time(raw) == expected

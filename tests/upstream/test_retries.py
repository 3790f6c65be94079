"""Retry policy at the HTTP seam: reads back off and retry, creates never pay twice."""

import socket
import time

import pytest

from tests.upstream.fakeserver import Step
from upstream import errors
from upstream.factory import client_for
from upstream.models import UpstreamCall
from upstream.types import AssetType, UrlSource

EMPTY_PAGE = Step(200, {"PageNumber": 1, "PageSize": 100, "TotalCount": 0, "Items": []})
UNAVAILABLE = Step(503, {"error": {"message": "busy"}})
SOURCE = UrlSource("https://files.example/a.jpg?sig=secret")


def page_with(*assets):
    items = [{"Id": i, "Name": n, "GroupId": "group-1", "Status": "Processing"} for i, n in assets]
    return Step(200, {"PageNumber": 1, "PageSize": 100, "TotalCount": len(items), "Items": items})


def create(client, name="upload-1"):
    return client.create_asset(
        group_id="group-1", name=name, asset_type=AssetType.IMAGE, source=SOURCE
    )


# --- Reads ---------------------------------------------------------------------------------------


def test_reads_retry_after_a_5xx_and_record_every_attempt(anyfast, anyfast_account, fake):
    fake.script(UNAVAILABLE, Step(200, {"Id": "asset-1", "Status": "Active"}))
    assert anyfast.get_asset(asset_id="asset-1").status.is_active
    assert fake.actions() == ["GetAsset", "GetAsset"]
    rows = list(anyfast_account.calls.order_by("id").values_list("http_status", "error_code"))
    assert rows == [(503, "Local.Unavailable"), (200, "")]


def test_reads_give_up_after_the_attempt_limit(anyfast, fake):
    fake.script(UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, UNAVAILABLE)
    with pytest.raises(errors.UpstreamUnavailable):
        anyfast.list_assets()
    assert len(fake.requests) == 3


def test_reads_wait_at_least_retry_after(anyfast, fake):
    fake.script(
        Step(429, {"error": {"message": "slow"}}, headers={"Retry-After": "0.4"}), EMPTY_PAGE
    )
    started = time.monotonic()
    anyfast.list_assets()
    assert time.monotonic() - started >= 0.4


def test_a_retry_after_beyond_the_budget_goes_back_to_the_caller(anyfast, fake):
    fake.script(Step(503, {"error": {"message": "maintenance"}}, headers={"Retry-After": "120"}))
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        anyfast.list_assets()
    assert caught.value.retry_after == 120
    assert len(fake.requests) == 1


def test_permanent_errors_are_not_retried(anyfast, fake):
    fake.script(Step(400, {"code": "InvalidParameter", "message": "PageSize"}), EMPTY_PAGE)
    with pytest.raises(errors.UpstreamRejected):
        anyfast.list_assets()
    assert len(fake.requests) == 1


def test_a_hanging_read_times_out_and_is_retried(anyfast, fake):
    fake.script(
        Step(200, {"Id": "a", "Status": "Active"}, delay=0.8),
        Step(200, {"Id": "a", "Status": "Active"}),
    )
    assert anyfast.get_asset(asset_id="a").id == "a"
    assert UpstreamCall.objects.filter(error_code="Local.ReadTimeout").count() == 1


def test_a_trickling_answer_is_cut_off(fast_settings, anyfast_account, fake):
    fast_settings.UPSTREAM_TOTAL_TIMEOUT = 0.3
    fast_settings.UPSTREAM_READ_ATTEMPTS = 1
    fake.script(Step(200, {"Id": "asset-1", "Status": "Active", "Name": "x" * 40}, trickle=0.02))
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        client_for(anyfast_account).get_asset(asset_id="asset-1")
    assert caught.value.code == "Local.SlowAnswer"


def test_an_unreachable_host_is_unavailable_and_not_processed(fast_settings, anyfast_account):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    anyfast_account.base_url = f"http://127.0.0.1:{port}"
    fast_settings.UPSTREAM_READ_ATTEMPTS = 1
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        client_for(anyfast_account).list_assets()
    assert caught.value.code == "Local.ConnectError"
    assert caught.value.maybe_processed is False
    assert "could not be reached" in caught.value.explanation
    assert UpstreamCall.objects.get().http_status is None


def test_iter_assets_walks_every_page(anyfast, fake):
    def page(number, ids):
        items = [{"Id": i, "Status": "Active"} for i in ids]
        return Step(200, {"PageNumber": number, "PageSize": 2, "TotalCount": 5, "Items": items})

    fake.script(page(1, ["a", "b"]), page(2, ["c", "d"]), page(3, ["e"]))
    assert [a.id for a in anyfast.iter_assets(page_size=2)] == ["a", "b", "c", "d", "e"]
    assert [r.json()["PageNumber"] for r in fake.requests] == [1, 2, 3]


def test_get_asset_falls_back_to_the_group_listing(anyfast, fake):
    fake.script(
        Step(404, {"code": "NotFound.asset_id", "message": "not found"}),
        page_with(("asset-9", "n")),
    )
    assert anyfast.get_asset(asset_id="asset-9", group_id="group-1").id == "asset-9"
    assert fake.requests[1].json()["Filter"] == {"GroupIds": ["group-1"]}


def test_get_asset_without_a_group_reports_not_found(anyfast, fake):
    fake.script(Step(404, {"code": "NotFound.asset_id", "message": "not found"}))
    with pytest.raises(errors.AssetNotFound):
        anyfast.get_asset(asset_id="asset-9")


# --- Deletes -------------------------------------------------------------------------------------


def test_a_delete_whose_answer_was_lost_counts_when_the_retry_finds_nothing(anyfast, fake):
    fake.script(Step(drop=True), Step(404, {"code": "NotFound.asset_id", "message": "gone"}))
    anyfast.delete_asset(asset_id="asset-1")
    assert fake.actions() == ["DeleteAsset", "DeleteAsset"]


def test_deleting_an_unknown_asset_is_an_error(anyfast, fake):
    fake.script(Step(404, {"code": "NotFound.asset_id", "message": "gone"}))
    with pytest.raises(errors.AssetNotFound):
        anyfast.delete_asset(asset_id="asset-1")


# --- Creates -------------------------------------------------------------------------------------


def test_create_looks_for_the_name_first(anyfast, fake):
    fake.script(page_with(("asset-old", "upload-1")))
    assert create(anyfast) == "asset-old"
    assert fake.actions() == ["ListAssets"]
    assert fake.requests[0].json()["Filter"] == {"GroupIds": ["group-1"], "Name": "upload-1"}


def test_a_lost_create_answer_is_recovered_by_name_without_a_second_create(anyfast, fake):
    fake.script(EMPTY_PAGE, Step(drop=True), page_with(("asset-new", "upload-1")))
    assert create(anyfast) == "asset-new"
    assert fake.actions() == ["ListAssets", "CreateAsset", "ListAssets"]


def test_a_timed_out_create_is_recovered_by_name(anyfast, fake):
    fake.script(
        EMPTY_PAGE, Step(200, {"Id": "asset-new"}, delay=0.8), page_with(("asset-new", "upload-1"))
    )
    assert create(anyfast) == "asset-new"
    assert fake.actions().count("CreateAsset") == 1


def test_a_create_left_unanswered_and_not_found_goes_back_to_the_caller(anyfast, fake):
    """The request may still be in flight upstream: resending now could make a second asset."""
    fake.script(EMPTY_PAGE, Step(drop=True), EMPTY_PAGE)
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        create(anyfast)
    assert caught.value.code == "Local.ConnectionDropped"
    assert fake.actions() == ["ListAssets", "CreateAsset", "ListAssets"]


def test_a_create_that_did_not_land_is_sent_again(anyfast, fake):
    fake.script(EMPTY_PAGE, UNAVAILABLE, EMPTY_PAGE, Step(200, {"Id": "asset-2"}))
    assert create(anyfast) == "asset-2"
    assert fake.actions() == ["ListAssets", "CreateAsset", "ListAssets", "CreateAsset"]


def test_a_near_match_is_not_mistaken_for_the_upload(anyfast, fake):
    fake.script(
        EMPTY_PAGE, UNAVAILABLE, page_with(("asset-x", "upload-10")), Step(200, {"Id": "asset-2"})
    )
    assert create(anyfast) == "asset-2"


def test_creates_stop_after_the_send_limit(anyfast, fake):
    fake.script(EMPTY_PAGE, UNAVAILABLE, EMPTY_PAGE, UNAVAILABLE, EMPTY_PAGE)
    with pytest.raises(errors.UpstreamUnavailable):
        create(anyfast)
    assert fake.actions().count("CreateAsset") == 2
    # The last failure was looked up too, so the caller's retry starts from a known state.
    assert fake.actions()[-1] == "ListAssets"


def test_a_rate_limited_create_is_resent_without_a_look_up(anyfast, fake):
    limited = Step(429, {"error": {"message": "slow"}}, headers={"Retry-After": "0.1"})
    fake.script(EMPTY_PAGE, limited, Step(200, {"Id": "asset-3"}))
    assert create(anyfast) == "asset-3"
    assert fake.actions() == ["ListAssets", "CreateAsset", "CreateAsset"]


def test_a_refused_create_is_not_retried(anyfast, fake):
    fake.script(EMPTY_PAGE, Step(400, {"code": "InvalidParameter.DownloadFailed", "message": "x"}))
    with pytest.raises(errors.DownloadFailed):
        create(anyfast)
    assert fake.actions() == ["ListAssets", "CreateAsset"]


def test_a_create_answer_without_an_id_is_looked_up(anyfast, fake):
    fake.script(EMPTY_PAGE, Step(200, {"Status": "ok"}), page_with(("asset-4", "upload-1")))
    assert create(anyfast) == "asset-4"


def test_verification_sessions_are_started_once(anyfast, fake):
    fake.script(UNAVAILABLE, UNAVAILABLE)
    with pytest.raises(errors.UpstreamUnavailable):
        anyfast.start_verification(callback_url="https://portal.example/cb")
    assert len(fake.requests) == 1

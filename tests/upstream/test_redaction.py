"""Credentials never show in reprs, logs, exception messages or the call log."""

import logging

import pytest

from tests.upstream.conftest import ACCESS_KEY_ID, SECRET_KEY, TOKEN
from tests.upstream.fakeserver import Step
from upstream import errors
from upstream.models import UpstreamCall
from upstream.types import UrlSource, VerificationStart

SECRETS = (TOKEN, SECRET_KEY, ACCESS_KEY_ID)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_client_and_account_reprs_hide_credentials(
    anyfast, byteplus, anyfast_account, byteplus_account
):
    for thing in (anyfast, byteplus, anyfast_account, byteplus_account):
        assert_clean(repr(thing))
        assert_clean(str(thing))
    assert_clean(repr(vars(byteplus)))
    assert_clean(repr(vars(anyfast)))


def test_logs_and_rows_never_hold_credentials(anyfast, byteplus, fake, caplog):
    # Each upstream could only echo the credential it was sent.
    token_echo = f"token {TOKEN} is invalid (Authorization: Bearer {TOKEN})"
    key_echo = f"key {ACCESS_KEY_ID} with secret {SECRET_KEY} is not allowed"
    fake.script(
        Step(200, {"PageNumber": 1, "PageSize": 1, "TotalCount": 0, "Items": []}),
        Step(401, {"error": {"message": token_echo}}),
        Step(
            403,
            {
                "ResponseMetadata": {
                    "RequestId": "r",
                    "Error": {"Code": "AccessDenied", "Message": key_echo},
                }
            },
        ),
    )
    with caplog.at_level(logging.DEBUG):
        anyfast.list_assets()
        with pytest.raises(errors.InvalidCredentials) as first:
            anyfast.list_assets()
        with pytest.raises(errors.AccessDenied) as second:
            byteplus.list_assets()
    assert_clean(caplog.text)
    for caught in (first, second):
        assert_clean(str(caught.value))
        assert_clean(repr(caught.value))
        assert_clean(caught.value.message)
    rows = list(
        UpstreamCall.objects.values_list("action", "error_code", "error_message", "request_id")
    )
    assert len(rows) == 3
    assert_clean(repr(rows))
    assert "upstream Unit Anyfast ListAssets status=200" in caplog.text


def test_one_log_line_per_call(anyfast, fake, caplog):
    fake.script(Step(200, {"Id": "asset-1", "Status": "Active"}))
    with caplog.at_level(logging.INFO, logger="upstream"):
        anyfast.get_asset(asset_id="asset-1")
    lines = [r.getMessage() for r in caplog.records if r.name == "upstream"]
    assert len(lines) == 1
    assert lines[0].startswith("upstream Unit Anyfast GetAsset status=200 ")


def test_tokens_and_signed_urls_stay_out_of_value_reprs():
    start = VerificationStart(
        "20260520163350ABCDEF0123456789ABCD", "https://h5.example/x?t=1", "https://p/cb"
    )
    assert "ABCDEF0123456789ABCD" not in repr(start)
    assert "sig=" not in repr(UrlSource("https://files.example/a.jpg?sig=s3cret"))

"""Reading every error shape the upstream is known to send, and garbage, into our error tree."""

import json

import pytest

from tests.upstream.conftest import TOKEN
from tests.upstream.fakeserver import Step
from upstream import errors
from upstream.codes import ErrorDetail, build_error, explain, find_error, parse_retry_after
from upstream.factory import client_for

RELAYED_DOWNLOAD_FAILED = {
    "code": "InvalidParameter",
    "message": json.dumps(
        {
            "ResponseMetadata": {
                "RequestId": "20260520163350ABCDEF",
                "Action": "CreateAsset",
                "Error": {"Code": "InvalidParameter.DownloadFailed", "Message": "fetch failed"},
            }
        }
    ),
    "data": None,
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Anyfast's own shape.
        (
            {
                "error": {
                    "type": "new_api_error",
                    "code": "",
                    "message": "GroupType must be one of [AIGC]",
                }
            },
            ErrorDetail("", "GroupType must be one of [AIGC]"),
        ),
        ({"error": {"type": "invalid_request", "message": "bad"}}, ErrorDetail("", "bad")),
        # Relayed: the nested JSON text wins.
        (
            RELAYED_DOWNLOAD_FAILED,
            ErrorDetail("InvalidParameter.DownloadFailed", "fetch failed", "20260520163350ABCDEF"),
        ),
        (
            {
                "code": 500,
                "message": 'upstream said: {"error": {"code": "NotFound.group_id", "message": "x"}}',
            },
            ErrorDetail("NotFound.group_id", "x"),
        ),
        (
            {
                "code": "X",
                "message": '{"Error": {"Code": "FaceMismatch", "Message": "no"}}',
                "data": None,
            },
            ErrorDetail("FaceMismatch", "no"),
        ),
        # Relayed, nested without the envelope.
        (
            {
                "code": 404,
                "message": '{"Code": "NotFound.group_id", "Message": "gone"}',
                "data": None,
            },
            ErrorDetail("NotFound.group_id", "gone"),
        ),
        # Plain text message.
        (
            {"code": "PixelCountTooSmall", "message": "too small"},
            ErrorDetail("PixelCountTooSmall", "too small"),
        ),
        # Nested text that isn't JSON after all keeps the outer error.
        ({"code": "E1", "message": "broken {not json"}, ErrorDetail("E1", "broken {not json")),
        # BytePlus.
        (
            {
                "ResponseMetadata": {
                    "RequestId": "r-1",
                    "Error": {"Code": "AccessDenied", "Message": "no"},
                }
            },
            ErrorDetail("AccessDenied", "no", "r-1"),
        ),
        # Not error bodies.
        ({"Id": "asset-1", "Error": {"Code": "FaceMismatch"}}, None),
        ([1, 2], None),
        ("text", None),
        (None, None),
    ],
)
def test_it_finds_the_innermost_error(body, expected):
    assert find_error(body) == expected


def test_it_stops_at_absurd_nesting():
    body: dict = {"code": "outer", "message": "m"}
    for depth in range(20):
        body = {"code": f"L{depth}", "message": json.dumps(body)}
    assert find_error(body) is not None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("FaceMismatch", "doesn't match"),
        ("PixelCountTooSmall", "too small"),
        ("InvalidParameter.DownloadFailed", "could not download"),
        ("InputImageSensitiveContentDetected.PolicyViolation", "moderation"),
        ("SomethingNew", "SomethingNew"),
        ("", "reported an error"),
    ],
)
def test_explain_gives_plain_words_for_asset_codes(code, fragment):
    explanation, fix = explain(code)
    assert fragment in explanation
    assert fix


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_it_reads_retry_after_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_it_reads_retry_after_dates():
    from datetime import UTC, datetime

    now = datetime(2026, 5, 20, 16, 33, 50, tzinfo=UTC)
    assert parse_retry_after("Wed, 20 May 2026 16:34:00 GMT", now=now) == 10.0


# --- Through the HTTP seam: what callers see ---------------------------------------------------


@pytest.mark.parametrize(
    ("step", "error_class", "code"),
    [
        (
            Step(403, {"error": {"type": "x", "message": "GroupType must be one of [AIGC]"}}),
            errors.WrongTokenGroup,
            "WrongTokenGroup",
        ),
        (
            Step(400, RELAYED_DOWNLOAD_FAILED),
            errors.DownloadFailed,
            "InvalidParameter.DownloadFailed",
        ),
        (
            Step(404, {"code": "NotFound.asset_id", "message": "asset not found"}),
            errors.AssetNotFound,
            None,
        ),
        (Step(404, {"code": "NotFound", "message": "not found"}), errors.AssetNotFound, "NotFound"),
        (
            Step(400, {"code": "NotFound.group_id", "message": "asset group group-1 not found"}),
            errors.GroupNotFound,
            None,
        ),
        (
            Step(
                400, {"code": "InputImageSensitiveContentDetected.PolicyViolation", "message": "x"}
            ),
            errors.ContentPolicyViolation,
            None,
        ),
        (
            Step(400, {"code": "PixelCountTooSmall", "message": "x"}),
            errors.PixelCountTooSmall,
            None,
        ),
        (Step(401, {"error": {"message": "invalid token"}}), errors.InvalidCredentials, None),
        (Step(403, {"code": "Forbidden", "message": "no"}), errors.UpstreamAuthError, None),
        (Step(400, {"what": "ever"}), errors.UpstreamRejected, ""),
        (Step(404, "<html><body>Not Found</body></html>"), errors.AccountMisconfigured, None),
        (
            Step(302, b"", headers={"Location": "https://elsewhere/"}),
            errors.AccountMisconfigured,
            None,
        ),
        (Step(200, "<html>captive portal</html>"), errors.UnexpectedResponse, None),
        (Step(200, b"\xff\xfe\x00garbage"), errors.UnexpectedResponse, None),
        (Step(200, [1, 2, 3]), errors.UnexpectedResponse, None),
        (
            Step(200, {"error": {"message": "quota exceeded", "type": "x"}}),
            errors.UpstreamRejected,
            None,
        ),
        (Step(200, {"code": 500, "message": "internal"}), errors.UpstreamUnavailable, None),
        # GetAsset without an Id: a success body that lacks what the contract promises.
        (
            Step(200, {"Name": "x", "Status": "Active"}),
            errors.UnexpectedResponse,
            "Local.UnexpectedResponse",
        ),
    ],
)
def test_anyfast_errors_become_the_right_class(anyfast, fake, step, error_class, code):
    fake.script(step, step, step)
    with pytest.raises(error_class) as caught:
        anyfast.get_asset(asset_id="asset-1")
    if code is not None:
        assert caught.value.code == code
    assert caught.value.explanation and caught.value.fix
    assert caught.value.action == "GetAsset"


def test_relayed_errors_keep_the_inner_request_id(anyfast, fake):
    fake.script(Step(400, RELAYED_DOWNLOAD_FAILED))
    with pytest.raises(errors.DownloadFailed) as caught:
        anyfast.get_asset(asset_id="asset-1")
    assert caught.value.request_id == "20260520163350ABCDEF"
    assert caught.value.http_status == 400


def test_anyfast_request_id_header_is_kept(anyfast, anyfast_account, fake):
    fake.script(
        Step(200, {"Id": "asset-1", "Status": "Active"}, headers={"X-Oneapi-Request-Id": "gw-77"})
    )
    anyfast.get_asset(asset_id="asset-1")
    assert anyfast_account.calls.get().request_id == "gw-77"


def test_missing_callback_url_is_named(anyfast, fake):
    message = "[***.CallbackURL] The required parameter CallbackURL is missing."
    fake.script(Step(400, {"code": "MissingParameter", "message": message}))
    with pytest.raises(errors.MissingCallbackUrl):
        anyfast.start_verification(callback_url="https://portal.example/callback")


def test_rate_limits_carry_retry_after_and_were_not_processed(fast_settings, anyfast_account, fake):
    fast_settings.UPSTREAM_READ_ATTEMPTS = 1
    client = client_for(anyfast_account)
    fake.script(Step(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "7"}))
    with pytest.raises(errors.RateLimited) as caught:
        client.list_assets()
    assert caught.value.retry_after == 7.0
    assert caught.value.maybe_processed is False
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("step", "error_class"),
    [
        (
            Step(
                403,
                {
                    "ResponseMetadata": {
                        "RequestId": "r-9",
                        "Error": {"Code": "AccessDenied", "Message": "x"},
                    }
                },
            ),
            errors.AccessDenied,
        ),
        (
            Step(
                401,
                {"ResponseMetadata": {"Error": {"Code": "SignatureDoesNotMatch", "Message": "x"}}},
            ),
            errors.SignatureRejected,
        ),
        (
            Step(
                200, {"ResponseMetadata": {"Error": {"Code": "NotFound.asset_id", "Message": "x"}}}
            ),
            errors.AssetNotFound,
        ),
        (
            Step(200, {"ResponseMetadata": {"RequestId": "r"}, "Result": "nope"}),
            errors.UnexpectedResponse,
        ),
        (Step(200, {"Id": "asset-1"}), errors.UnexpectedResponse),
        (
            Step(500, {"ResponseMetadata": {"Error": {"Code": "InternalError", "Message": "x"}}}),
            errors.UpstreamUnavailable,
        ),
        (Step(503, "<html>maintenance</html>"), errors.UpstreamUnavailable),
    ],
)
def test_byteplus_errors_become_the_right_class(byteplus, fake, step, error_class):
    fake.script(step, step, step)
    with pytest.raises(error_class):
        byteplus.get_asset(asset_id="asset-1")


def test_byteplus_request_id_is_kept_on_errors(byteplus, byteplus_account, fake):
    body = {
        "ResponseMetadata": {"RequestId": "r-9", "Error": {"Code": "AccessDenied", "Message": "x"}}
    }
    fake.script(Step(403, body))
    with pytest.raises(errors.AccessDenied) as caught:
        byteplus.list_groups()
    assert caught.value.request_id == "r-9"
    row = byteplus_account.calls.get()
    assert (row.http_status, row.error_code, row.request_id) == (403, "AccessDenied", "r-9")


def test_unavailable_html_says_what_came_back(anyfast, fake):
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    fake.script(*[Step(502, page)] * 3)
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        anyfast.list_assets()
    assert "text/html" in str(caught.value)
    assert "502 Bad Gateway" in str(caught.value)
    assert "<" not in caught.value.message


def test_echoed_tokens_never_reach_the_caller(anyfast, fake):
    fake.script(Step(401, {"error": {"message": f"token {TOKEN} is invalid; got Bearer {TOKEN}"}}))
    with pytest.raises(errors.InvalidCredentials) as caught:
        anyfast.list_assets()
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caught.value.message


@pytest.mark.parametrize(
    ("detail", "status", "error_class", "code"),
    [
        # The plain shape: the code is the HTTP status; a known message names the error.
        (
            ErrorDetail("400", "GroupType must be one of [AIGC]"),
            400,
            errors.WrongTokenGroup,
            "WrongTokenGroup",
        ),
        (
            ErrorDetail("400", "[***.CallbackURL] The required parameter CallbackURL is missing."),
            400,
            errors.MissingCallbackUrl,
            "MissingParameter.CallbackURL",
        ),
        (
            ErrorDetail("404", "asset group group-x not found"),
            404,
            errors.GroupNotFound,
            "NotFound.group_id",
        ),
        # The gateway shape's generic word is no better than a status.
        (
            ErrorDetail("bad_request", "GroupType must be one of [AIGC]"),
            400,
            errors.WrongTokenGroup,
            "WrongTokenGroup",
        ),
        # Unknown messages keep what the upstream said; specific codes are never replaced.
        (ErrorDetail("401", "Invalid token."), 401, errors.InvalidCredentials, "401"),
        (ErrorDetail("400", "Something else."), 400, errors.UpstreamRejected, "400"),
        (
            ErrorDetail("NotFound.asset_id", "asset group gone"),
            404,
            errors.AssetNotFound,
            "NotFound.asset_id",
        ),
    ],
)
def test_a_known_message_names_an_error_whose_code_does_not(detail, status, error_class, code):
    error = build_error(status=status, detail=detail, action="CreateAsset")
    assert type(error) is error_class
    assert (error.code, error.http_status) == (code, status)

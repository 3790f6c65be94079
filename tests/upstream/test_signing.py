"""BytePlus V4 signing against a vector derived by hand (sha256sum and `openssl dgst -hmac`
chains in a shell, independently of this code), step by step."""

from datetime import UTC, datetime

from tests.upstream.fakeserver import Step
from upstream import signing

BODY = b'{"PageNumber":1,"PageSize":1}'
BODY_SHA = "33631505cff747187aa3c449298d5acc16fd9c620f0f5ab5bc186b25e8ecc335"
HOST = "ark.ap-southeast-1.byteplusapi.com"
NOW = datetime(2026, 5, 20, 16, 33, 50, tzinfo=UTC)
CREDENTIALS = signing.Credentials(
    access_key_id="AKLTEXAMPLE",
    secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    region="ap-southeast-1",
)
CANONICAL = (
    "POST\n"
    "/\n"
    "Action=ListAssets&Version=2024-01-01\n"
    "content-type:application/json\n"
    f"host:{HOST}\n"
    f"x-content-sha256:{BODY_SHA}\n"
    "x-date:20260520T163350Z\n"
    "\n"
    "content-type;host;x-content-sha256;x-date\n"
    f"{BODY_SHA}"
)
CANONICAL_SHA = "7737be1085a328c76b9b5a09e747d35f211d3a9f6c19f7fdb865bca4288c29fe"
STRING_TO_SIGN = (
    f"HMAC-SHA256\n20260520T163350Z\n20260520/ap-southeast-1/ark/request\n{CANONICAL_SHA}"
)
DATE_KEY = "651aff0619365935d1cd5863745335b9c029b7c87c7410d26b150be75fe39050"
SIGNING_KEY = "3dd06e3242de9817f08b8637d4c5019cfda8f3784af6bdbb18bb67cabb4ae3ea"
SIGNATURE = "03c5441a90eeb22aa7bb99e3d772f8ee2928b108653fbbe9004480075b411de3"


def test_body_hash():
    assert signing.sha256_hex(BODY) == BODY_SHA


def test_canonical_request_is_literal():
    headers = {
        "X-Date": "20260520T163350Z",
        "Host": HOST,
        "Content-Type": "application/json",
        "X-Content-Sha256": BODY_SHA,
    }
    query = {"Version": "2024-01-01", "Action": "ListAssets"}
    canonical = signing.canonical_request(
        method="post", path="/", query=query, headers=headers, body_sha256=BODY_SHA
    )
    assert canonical == CANONICAL
    assert signing.sha256_hex(canonical.encode()) == CANONICAL_SHA


def test_string_to_sign_is_literal():
    scope = signing.credential_scope("20260520", "ap-southeast-1")
    assert scope == "20260520/ap-southeast-1/ark/request"
    text = signing.string_to_sign(x_date_value="20260520T163350Z", scope=scope, canonical=CANONICAL)
    assert text == STRING_TO_SIGN


def test_key_chain_starts_from_the_raw_secret():
    import hashlib
    import hmac

    first = hmac.new(CREDENTIALS.secret_access_key.encode(), b"20260520", hashlib.sha256)
    assert first.hexdigest() == DATE_KEY
    key = signing.signing_key(CREDENTIALS.secret_access_key, "20260520", "ap-southeast-1")
    assert key.hex() == SIGNING_KEY


def test_full_signature_and_header():
    headers = signing.sign(
        credentials=CREDENTIALS,
        method="POST",
        host=HOST,
        path="/",
        query={"Action": "ListAssets", "Version": "2024-01-01"},
        body_sha256=BODY_SHA,
        now=NOW,
    )
    assert headers == {
        "Content-Type": "application/json",
        "Host": HOST,
        "X-Date": "20260520T163350Z",
        "X-Content-Sha256": BODY_SHA,
        "Authorization": (
            "HMAC-SHA256 Credential=AKLTEXAMPLE/20260520/ap-southeast-1/ark/request, "
            f"SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={SIGNATURE}"
        ),
    }


def test_query_values_are_rfc3986_encoded_and_sorted():
    assert signing.canonical_query({"b": "x y", "a": "1/2~"}) == "a=1%2F2~&b=x%20y"


def test_x_date_is_utc():
    from datetime import timedelta, timezone

    local = NOW.astimezone(timezone(timedelta(hours=8)))
    assert signing.x_date(local) == "20260520T163350Z"


def test_credentials_repr_hides_the_secret():
    text = repr(CREDENTIALS)
    assert CREDENTIALS.secret_access_key not in text
    assert "AKLTEXAMPLE" not in text


def test_the_client_signs_what_it_sends(byteplus, fake):
    """The Host, hash and signature on the wire match the bytes on the wire."""
    fake.script(
        Step(
            200, {"ResponseMetadata": {"RequestId": "r"}, "Result": {"Items": [], "TotalCount": 0}}
        )
    )
    byteplus.list_assets(page_size=1)
    seen = fake.requests[0]
    assert seen.path == "/?Action=ListAssets&Version=2024-01-01"
    assert seen.headers["x-content-sha256"] == signing.sha256_hex(seen.body)
    assert seen.headers["host"] == fake.url.removeprefix("http://")
    stamp = seen.headers["x-date"]
    canonical = signing.canonical_request(
        method="POST",
        path="/",
        query={"Action": "ListAssets", "Version": "2024-01-01"},
        headers={k: seen.headers[k] for k in signing.SIGNED_HEADERS},
        body_sha256=signing.sha256_hex(seen.body),
    )
    expected = signing.signature(
        secret_access_key="unit-SECRET-key/with+slashes==",
        date=stamp[:8],
        region="ap-southeast-1",
        to_sign=signing.string_to_sign(
            x_date_value=stamp, scope=f"{stamp[:8]}/ap-southeast-1/ark/request", canonical=canonical
        ),
    )
    assert seen.headers["authorization"].endswith(f"Signature={expected}")
    assert seen.json()["ProjectName"] == "default"

"""Server side of the BytePlus "HMAC-SHA256" request signature (CONTRACT.md §4).

Written from the contract and the vendor's published description, independently of the
portal's client signer: if the two disagree, a contract test fails, which is the point.

Canonical request, lines joined by ``\\n``::

    POST
    /
    Action=CreateAsset&Version=2024-01-01        (RFC 3986-encoded, sorted by name)
    content-type:application/json\\n              (one ``name:value\\n`` entry per signed
    host:ark.ap-southeast-1.byteplusapi.com\\n      header, lower-cased names, trimmed values,
    x-content-sha256:<hex>\\n                       sorted; every entry ends in a newline, so
    x-date:20260520T163350Z\\n                      a blank line follows the block)
    content-type;host;x-content-sha256;x-date
    <hex sha256 of the body>

String to sign: ``HMAC-SHA256``, X-Date, scope ``<YYYYMMDD>/<region>/<service>/request`` and
hex(sha256(canonical request)), joined by newlines. Signing key: HMAC-SHA256 chained over the raw
secret key with the date, region, service and ``request``.

The payload hash is computed here from the body actually received, never taken from the
``X-Content-Sha256`` header, so a body altered after signing is refused.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

ALGORITHM = "HMAC-SHA256"
SERVICE = "ark"
TERMINATOR = "request"
REQUIRED_SIGNED_HEADERS = frozenset({"host", "x-date"})

_AUTH_RE = re.compile(
    r"^HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)$"
)


class SignatureError(Exception):
    """The request's signature can't be accepted. ``code`` is the upstream error code."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_query(query: str) -> str:
    """Sorted ``name=value`` pairs, RFC 3986-encoded; equal names keep their request order."""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = [(quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs]
    encoded.sort(key=lambda pair: pair[0])
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    signed_headers: tuple[str, ...],
    payload_hash: str,
) -> str:
    """``headers`` maps lower-case names to values; only ``signed_headers`` are used."""
    header_block = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query(query),
            header_block,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def signing_key(secret_access_key: str, date: str, region: str, service: str = SERVICE) -> bytes:
    key = _hmac(secret_access_key.encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, TERMINATOR)


def signature(
    *, secret_access_key: str, x_date: str, region: str, canonical: str, service: str = SERVICE
) -> str:
    date = x_date[:8]
    scope = f"{date}/{region}/{service}/{TERMINATOR}"
    to_sign = "\n".join(
        [ALGORITHM, x_date, scope, sha256_hex(canonical.encode())],
    )
    return hmac.new(
        signing_key(secret_access_key, date, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()


def parse_authorization(value: str | None) -> ParsedAuthorization:
    """Split the ``Authorization`` header; raises ``SignatureError`` when it is malformed."""
    match = _AUTH_RE.match((value or "").strip())
    if not match:
        raise SignatureError(
            "InvalidAuthorization", "The Authorization header is missing or malformed."
        )
    parts = match["credential"].split("/")
    if len(parts) != 5:
        raise SignatureError("InvalidCredential", "The credential scope is malformed.")
    access_key_id, date, region, service, terminator = parts
    signed = tuple(match["signed"].lower().split(";"))
    return ParsedAuthorization(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=signed,
        signature=match["signature"].lower(),
    )


def parse_x_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError(
            "InvalidTimestamp", "X-Date is missing or not YYYYMMDDTHHMMSSZ."
        ) from None


def verify(
    *,
    auth: ParsedAuthorization,
    secret_access_key: str,
    region: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
    max_skew_seconds: float,
) -> None:
    """Raise ``SignatureError`` unless the request is signed by ``secret_access_key``.

    ``headers`` maps lower-case names to values as received. Checks, in order: the scope names
    this region, service ``ark`` and ``request``; X-Date is well formed, within
    ``max_skew_seconds`` of ``now`` and on the scope's date; host and x-date are signed; the
    signature matches.
    """
    if auth.service != SERVICE or auth.terminator != TERMINATOR or auth.region != region:
        raise SignatureError(
            "SignatureDoesNotMatch",
            f"Credential scope must be <date>/{region}/{SERVICE}/{TERMINATOR}.",
        )
    x_date = headers.get("x-date", "")
    sent_at = parse_x_date(x_date)
    if abs((now - sent_at).total_seconds()) > max_skew_seconds:
        raise SignatureError("InvalidTimestamp", "X-Date is too far from the server time.")
    if auth.date != x_date[:8]:
        raise SignatureError("SignatureDoesNotMatch", "The scope date differs from X-Date.")
    missing = REQUIRED_SIGNED_HEADERS - set(auth.signed_headers)
    if missing or list(auth.signed_headers) != sorted(auth.signed_headers):
        raise SignatureError(
            "SignatureDoesNotMatch", "SignedHeaders must be sorted and include host and x-date."
        )
    canonical = canonical_request(
        method=method,
        path=path,
        query=query,
        headers=headers,
        signed_headers=auth.signed_headers,
        payload_hash=sha256_hex(body),
    )
    expected = signature(
        secret_access_key=secret_access_key, x_date=x_date, region=region, canonical=canonical
    )
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )

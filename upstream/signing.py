"""BytePlus request signing, HMAC-SHA256 "V4" (CONTRACT.md §4).

Shaped like AWS SigV4 with three differences: the headers are ``X-Date`` and ``X-Content-Sha256``,
the algorithm is named ``HMAC-SHA256`` and the key chain starts from the raw secret (no prefix).
Each step is its own function so tests can assert the intermediate texts literally.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

ALGORITHM = "HMAC-SHA256"
SERVICE = "ark"
TERMINATOR = "request"
SIGNED_HEADERS = ("content-type", "host", "x-content-sha256", "x-date")


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    region: str

    def __repr__(self) -> str:
        key = mask(self.access_key_id)
        return (
            f"Credentials(access_key_id='{key}', secret_access_key='***', region={self.region!r})"
        )


def mask(access_key_id: str) -> str:
    """Enough of an access key id to tell keys apart in logs, not enough to use it."""
    return f"{access_key_id[:6]}…" if len(access_key_id) > 6 else "***"


def x_date(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_query(query: Mapping[str, str]) -> str:
    """Keys sorted, keys and values percent-encoded as RFC 3986 (only unreserved kept)."""
    return "&".join(
        f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}"
        for key, value in sorted(query.items())
    )


def canonical_request(
    *,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body_sha256: str,
) -> str:
    """Method, path, query, the signed headers as ``name:value`` lines, the signed-header list and
    the body hash, joined by newlines. As in SigV4, every header line ends with a newline, so a
    blank line separates the header block from the signed-header list."""
    lowered = {name.lower(): " ".join(value.strip().split()) for name, value in headers.items()}
    header_block = "".join(f"{name}:{lowered[name]}\n" for name in SIGNED_HEADERS)
    return "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query(query),
            header_block,
            ";".join(SIGNED_HEADERS),
            body_sha256,
        ]
    )


def credential_scope(date: str, region: str) -> str:
    return f"{date}/{region}/{SERVICE}/{TERMINATOR}"


def string_to_sign(*, x_date_value: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, x_date_value, scope, sha256_hex(canonical.encode())])


def signing_key(secret_access_key: str, date: str, region: str) -> bytes:
    key = secret_access_key.encode()
    for part in (date, region, SERVICE, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(*, secret_access_key: str, date: str, region: str, to_sign: str) -> str:
    key = signing_key(secret_access_key, date, region)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def sign(
    *,
    credentials: Credentials,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    body_sha256: str,
    now: datetime,
    content_type: str = "application/json",
) -> dict[str, str]:
    """The four signed headers plus ``Authorization``, ready to send with the request.

    ``host`` must be exactly the Host header that goes on the wire (with a port if not default).
    """
    stamp = x_date(now)
    headers = {
        "Content-Type": content_type,
        "Host": host,
        "X-Date": stamp,
        "X-Content-Sha256": body_sha256,
    }
    canonical = canonical_request(
        method=method, path=path, query=query, headers=headers, body_sha256=body_sha256
    )
    scope = credential_scope(stamp[:8], credentials.region)
    to_sign = string_to_sign(x_date_value=stamp, scope=scope, canonical=canonical)
    sig = signature(
        secret_access_key=credentials.secret_access_key,
        date=stamp[:8],
        region=credentials.region,
        to_sign=to_sign,
    )
    headers["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(SIGNED_HEADERS)}, Signature={sig}"
    )
    return headers

"""A minimal BytePlus request signer, written for the tests from CONTRACT.md §4.

Deliberately not importing ``upstream.simulator.signing``: the simulator must accept what a
signer built from the contract alone produces.
"""

import datetime as dt
import hashlib
import hmac
import json
from typing import Any


def _mac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed_request(
    *,
    host: str,
    action: str,
    body: dict[str, Any] | bytes,
    access_key_id: str,
    secret_access_key: str,
    region: str = "ap-southeast-1",
    when: dt.datetime | None = None,
    version: str = "2024-01-01",
) -> tuple[str, dict[str, str], bytes]:
    """Path with query, headers and body for ``POST /?Action=…&Version=…``."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    x_date = (when or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    day = x_date[:8]
    body_hash = hashlib.sha256(payload).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "Host": host,
        "X-Content-Sha256": body_hash,
        "X-Date": x_date,
    }
    signed = "content-type;host;x-content-sha256;x-date"
    canonical_headers = "".join(f"{name.lower()}:{headers[name]}\n" for name in sorted(headers))
    query = f"Action={action}&Version={version}"
    canonical = f"POST\n/\n{query}\n{canonical_headers}\n{signed}\n{body_hash}"
    scope = f"{day}/{region}/ark/request"
    to_sign = f"HMAC-SHA256\n{x_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = secret_access_key.encode()
    for part in (day, region, "ark", "request"):
        key = _mac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={signed}, "
        f"Signature={signature}"
    )
    return f"/?{query}", headers, payload

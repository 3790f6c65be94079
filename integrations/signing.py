"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per valid
secret, space-separated, so a receiver keeps working through a secret rotation."""

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(*, secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret=s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets
        ),
        "content-type": "application/json",
    }


def verify(
    *, secret: str, message_id: str, timestamp: int, body: bytes, signature_header: str
) -> bool:
    """What a receiver does: any one of the header's v1 signatures matching is enough."""
    expected = sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
    return any(
        hmac.compare_digest(expected, candidate) for candidate in signature_header.split(" ")
    )

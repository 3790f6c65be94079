"""Ed25519 keys for signed checkpoints, and the exact message that is signed.

`AUDIT_SIGNING_KEY` is the private key, from configuration only (never the database): either the
base64 (standard or url-safe) of the raw 32-byte private key, or a PKCS#8 PEM block
(``openssl genpkey -algorithm ed25519``). Public keys are accepted in the same two shapes (raw
base64, or SubjectPublicKeyInfo PEM). A key's fingerprint is the hex SHA-256 of its raw 32 public
bytes.

The signed message for a checkpoint is the UTF-8 of this canonical JSON (sorted keys, no spaces):

    {"created_at":"<YYYY-MM-DDTHH:MM:SS.ffffffZ>","hash":"<hex>","seq":<n>,"v":"sitter-checkpoint/1"}

The "v" member keeps a checkpoint signature from ever being valid for anything else.
"""

import base64
import binascii
import hashlib
import json
from datetime import datetime
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from ledger.chain import format_instant

CHECKPOINT_FORMAT = "sitter-checkpoint/1"


def load_private_key(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("AUDIT_SIGNING_KEY is a PEM key but not an Ed25519 one")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw_32(text, "AUDIT_SIGNING_KEY"))


def load_public_key(text: str) -> Ed25519PublicKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is PEM but not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw_32(text, "the public key"))


def _raw_32(text: str, what: str) -> bytes:
    try:
        # Either base64 alphabet: the generated development key is url-safe.
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error as error:
        raise ValueError(f"{what} is neither PEM nor base64") from error
    if len(raw) != 32:
        raise ValueError(f"{what} must decode to 32 bytes, not {len(raw)}")
    return raw


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_base64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_raw(key)).decode()


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(public_raw(key)).hexdigest()


@cache
def _configured(text: str) -> Ed25519PrivateKey:
    return load_private_key(text)


def signing_key() -> Ed25519PrivateKey:
    """The configured `AUDIT_SIGNING_KEY`."""
    return _configured(settings.AUDIT_SIGNING_KEY)


def checkpoint_message(*, seq: int, head_hash: str, created_at: datetime) -> bytes:
    document = {
        "created_at": format_instant(created_at),
        "hash": head_hash,
        "seq": seq,
        "v": CHECKPOINT_FORMAT,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(message: bytes, key: Ed25519PrivateKey) -> str:
    return key.sign(message).hex()


def is_valid(message: bytes, signature_hex: str, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True

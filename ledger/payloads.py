"""What may enter an audit payload, and what may not.

Evidence names things (a consent text hash, a file's SHA-256, an upstream id); it never holds them.
Raw tokens, API keys and media bytes must never reach the ledger, which can't be cleaned up later:
`clean_payload` raises `ValueError` on secret-looking keys, on bytes, and on oversized payloads
(a base64 blob is media by another name). It also keeps values inside the JSON subset whose
canonical spelling is unambiguous (see `ledger.chain`), so the hash is recomputable anywhere.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

# Compared against the key lower-cased with everything but letters and digits removed, so
# "X-Api-Key", "api_key" and "apiKey" all match "apikey".
SECRET_KEY_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "credential",
    "cookie",
    "csrf",
)
KEY_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
# A credential pasted as a value, whatever its key is called.
CREDENTIAL_VALUE = re.compile(r"(bearer|basic)\s+\S", re.IGNORECASE)
MAX_SAFE_INTEGER = 2**53 - 1
MAX_PAYLOAD_BYTES = 16 * 1024

type JSONValue = bool | int | str | list[JSONValue] | dict[str, JSONValue] | None


def is_secret_key(key: str) -> bool:
    squashed = re.sub(r"[^a-z0-9]", "", key.lower())
    return any(part in squashed for part in SECRET_KEY_PARTS)


def clean_payload(payload: Mapping[str, object] | None) -> dict[str, JSONValue]:
    """A plain-JSON copy of `payload`, or `ValueError` naming the first offending entry."""
    if payload is None:
        return {}
    cleaned = _clean_mapping(payload, "payload")
    size = len(json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"audit payload is {size} bytes, over {MAX_PAYLOAD_BYTES}: record digests and ids, "
            "not contents"
        )
    return cleaned


def clean_text(value: str, where: str) -> str:
    """`value` if the ledger can store and hash it identically on every database."""
    if "\x00" in value:
        raise ValueError(f"{where} contains U+0000, which PostgreSQL cannot store")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"{where} is not well-formed Unicode (lone surrogate)") from error
    return value


def _clean_mapping(value: Mapping[Any, object], where: str) -> dict[str, JSONValue]:
    cleaned: dict[str, JSONValue] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise ValueError(
                f"{where}: key {key!r} must be 1-64 ASCII letters, digits, '_', '.' or '-', "
                "starting with a letter"
            )
        if is_secret_key(key):
            raise ValueError(
                f"{where}: key {key!r} looks like a secret; secrets never enter the ledger "
                "(record a fingerprint under a neutral name if you must)"
            )
        cleaned[key] = _clean_value(item, f"{where}.{key}")
    return cleaned


def _clean_value(value: object, where: str) -> JSONValue:
    # bool before int: True is an int to Python.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"{where}: integer beyond ±(2**53 - 1); pass it as a string")
        return value
    if isinstance(value, str):
        if CREDENTIAL_VALUE.match(value):
            raise ValueError(f"{where}: value looks like an Authorization header")
        return clean_text(value, where)
    if isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"{where}: bytes never enter the ledger; record their SHA-256 instead")
    if isinstance(value, float):
        raise ValueError(
            f"{where}: floats have no single JSON spelling; pass an integer (e.g. milliseconds) "
            "or a string"
        )
    if isinstance(value, Mapping):
        return _clean_mapping(value, where)
    if isinstance(value, list | tuple):
        return [_clean_value(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(
        f"{where}: {type(value).__name__} is not plain JSON; convert it (str(), isoformat()) first"
    )

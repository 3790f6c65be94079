from datetime import UTC, datetime

import pytest

from ledger.models import AuditEvent
from ledger.payloads import MAX_PAYLOAD_BYTES, clean_payload
from ledger.services import Actor, record


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "access_token",
        "bytedToken",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "password",
        "client_secret",
        "secret_access_key",
        "Authorization",
        "private_key",
        "session_cookie",
        "credentials",
    ],
)
def test_it_refuses_secret_looking_keys(key):
    with pytest.raises(ValueError, match="secret"):
        clean_payload({key: "value"})


def test_it_refuses_secret_looking_keys_at_any_depth():
    with pytest.raises(ValueError, match=r"payload\.request\[0\]\.headers: key 'Authorization'"):
        clean_payload({"request": [{"headers": {"Authorization": "x"}}]})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"\x89PNG", "bytes never enter"),
        (bytearray(b"x"), "bytes never enter"),
        (memoryview(b"x"), "bytes never enter"),
        (12.5, "floats"),
        (2**53, "integer beyond"),
        (datetime(2025, 1, 1, tzinfo=UTC), "not plain JSON"),
        ("nul\x00byte", "U\\+0000"),
        ("lone \ud800 surrogate", "well-formed"),
        ("Bearer abc.def", "Authorization header"),
        ("x" * MAX_PAYLOAD_BYTES, "over"),
    ],
)
def test_it_refuses_values_that_are_not_evidence(value, message):
    with pytest.raises(ValueError, match=message):
        clean_payload({"value": value})


@pytest.mark.parametrize("key", ["", "1st", "has space", "ünïcode", "x" * 65, 3])
def test_it_refuses_keys_that_are_not_plain_names(key):
    with pytest.raises(ValueError, match="must be 1-64 ASCII"):
        clean_payload({key: 1})


def test_it_passes_plain_evidence_through():
    payload = {
        "sha256": "ab" * 32,
        "size": 5_000_000,
        "upstream.asset_id": "asset-20250101",
        "modalities": ("image", "video"),
        "face_mismatch": False,
        "term_ends": None,
        "scope": {"project": "Spring campaign"},
    }
    assert clean_payload(payload) == {**payload, "modalities": ["image", "video"]}


@pytest.mark.django_db
def test_record_refuses_a_secret_and_writes_nothing():
    with pytest.raises(ValueError, match="secret"):
        record(action="upstream.called", actor=Actor.system(), payload={"api_key": "sk-123"})
    assert not AuditEvent.objects.exists()

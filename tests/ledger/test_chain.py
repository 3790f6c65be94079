"""The canonical form is a published contract: these tests pin it byte for byte."""

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ledger.chain import GENESIS_HASH, canonical_bytes, event_hash
from ledger.models import AuditEvent
from ledger.services import Actor, record

OCCURRED_AT = datetime(2025, 3, 9, 14, 5, 6, 70, tzinfo=UTC)
PAYLOAD = {"sha256": "00ff", "modalities": ["image", "video"], "term": None, "n": -3}
FIELDS: dict[str, Any] = {
    "seq": 7,
    "prev_hash": "ab" * 32,
    "occurred_at": OCCURRED_AT,
    "actor_kind": "staff",
    "actor_id": "12",
    "actor_label": 'Zoë "Z"\n\t\x01',
    "action": "consent.given",
    "subject_type": "verification.consent",
    "subject_id": "42",
    "person_id": 42,
    "payload": PAYLOAD,
    "ip": "2001:db8::1",
    "user_agent": "Mozilla/5.0",
}

EXPECTED = (
    '{"action":"consent.given","actor_id":"12","actor_kind":"staff",'
    '"actor_label":"Zoë \\"Z\\"\\n\\t\\u0001","ip":"2001:db8::1",'
    '"occurred_at":"2025-03-09T14:05:06.000070Z",'
    '"payload":{"modalities":["image","video"],"n":-3,"sha256":"00ff","term":null},'
    '"person_id":42,"prev_hash":"' + "ab" * 32 + '","seq":7,'
    '"subject_id":"42","subject_type":"verification.consent",'
    '"user_agent":"Mozilla/5.0","v":1}'
)


def test_it_writes_the_documented_canonical_form():
    assert canonical_bytes(FIELDS) == EXPECTED.encode("utf-8")


def test_the_hash_is_sha256_of_the_canonical_bytes():
    assert event_hash(FIELDS) == hashlib.sha256(EXPECTED.encode("utf-8")).hexdigest()


def test_it_spells_every_instant_in_utc():
    elsewhere = OCCURRED_AT.astimezone(timezone(timedelta(hours=8)))
    assert event_hash({**FIELDS, "occurred_at": elsewhere}) == event_hash(FIELDS)


def test_it_refuses_naive_timestamps():
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_bytes({**FIELDS, "occurred_at": datetime(2025, 1, 1)})


CHANGED = {
    "seq": 8,
    "prev_hash": "ac" * 32,
    "occurred_at": OCCURRED_AT + timedelta(microseconds=1),
    "actor_kind": "system",
    "actor_id": "13",
    "actor_label": "Zoe",
    "action": "consent.withdrawn",
    "subject_type": "verification.session",
    "subject_id": "43",
    "person_id": None,
    "payload": {**PAYLOAD, "n": -4},
    "ip": "2001:db8::2",
    "user_agent": "Mozilla/5.1",
}


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_every_field_is_covered_by_the_hash(name):
    assert event_hash({**FIELDS, name: CHANGED[name]}) != event_hash(FIELDS)


@pytest.mark.django_db
def test_the_stored_event_rehashes_to_its_hash_after_a_database_round_trip():
    payload = {
        "text": 'Zoë \u2028 \U0001f600 \\ " \x1f',
        "big": 2**53 - 1,
        "negative": -(2**53 - 1),
        "flags": [True, False, None],
        "nested": {"b": 1, "a": [{"z": "", "y": 0}]},
    }
    stored = record(action="consent.given", actor=Actor.system("test"), payload=payload)
    fresh = AuditEvent.objects.get(seq=stored.seq)
    fields = {name: getattr(fresh, name) for name in FIELDS}
    assert event_hash(fields) == fresh.hash == stored.hash
    assert fresh.prev_hash == GENESIS_HASH
    assert fresh.payload == payload

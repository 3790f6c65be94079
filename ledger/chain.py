"""The canonical form of an audit event and its hash: what an outside auditor recomputes.

Format 1, exactly:

    hash = lowercase hex of SHA-256( UTF-8( canonical JSON of the document below ) )

The document is a JSON object with these 14 members, one per column plus the format number:

    "v"             1
    "seq"           integer, 1 for the first event, then +1 per event
    "prev_hash"     the previous event's "hash"; for seq 1, 64 zeros ("0000…0000")
    "occurred_at"   UTC instant as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always six fraction digits)
    "actor_kind"    "staff" | "person" | "system"
    "actor_id"      string ("" when none)
    "actor_label"   string ("" when none)
    "action"        dotted name, e.g. "consent.given"
    "subject_type"  string, Django's "app_label.modelname" ("" when none)
    "subject_id"    string ("" when none)
    "person_id"     integer or null
    "payload"       JSON object (see below)
    "ip"            string ("" when none)
    "user_agent"    string ("" when none)

Canonical JSON is RFC 8785 (JCS) restricted to the values the ledger admits, which makes it what
Python's ``json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes:
object members sorted by key, no whitespace, strings with only ``"`` ``\\`` and U+0000–U+001F
escaped (``\\b \\f \\n \\r \\t``, the rest as lowercase ``\\u00xx``), everything else literal
UTF-8; integers in plain decimal; ``true``, ``false``, ``null``. `ledger.payloads` guarantees the
payload stays inside that subset: object keys are ASCII (so code-point and UTF-16 key order agree),
there are no floats (whose spelling differs between JSON writers and which PostgreSQL's jsonb
re-spells), integers stay within ±(2**53 - 1), and strings are well-formed Unicode without U+0000.
"""

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64

# The hashed columns, in the order `verify_audit` reads them.
HASHED_FIELDS = (
    "seq",
    "prev_hash",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_label",
    "action",
    "subject_type",
    "subject_id",
    "person_id",
    "payload",
    "ip",
    "user_agent",
)


def format_instant(moment: datetime) -> str:
    """A UTC instant in the canonical spelling, e.g. ``2025-01-31T09:05:00.000000Z``."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    # isoformat is C code and always writes four year digits; it runs once per verified event.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_bytes(fields: Mapping[str, object]) -> bytes:
    """The exact bytes that are hashed for an event with these column values."""
    document = {name: fields[name] for name in HASHED_FIELDS}
    occurred_at = document["occurred_at"]
    if not isinstance(occurred_at, datetime):
        raise TypeError("occurred_at must be a datetime")
    document["occurred_at"] = format_instant(occurred_at)
    document["v"] = FORMAT_VERSION
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def event_hash(fields: Mapping[str, object]) -> str:
    """The lowercase hex SHA-256 of `canonical_bytes(fields)`."""
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


# What `canonical_bytes` writes for a JSON object member value: strings quoted and escaped as
# ``ensure_ascii=False`` does, objects with sorted keys and no whitespace.
quote = encode_basestring
canonical_json = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_text(
    seq: int,
    prev_hash: str,
    instant: str,
    actor_kind: str,
    actor_id: str,
    actor_label: str,
    action: str,
    subject_type: str,
    subject_id: str,
    person_id: int | None,
    payload_json: str,
    ip: str,
    user_agent: str,
) -> str:
    """`canonical_bytes` as text, from values already in canonical spelling: `instant` as
    `format_instant` writes it and `payload_json` as `canonical_json` does. Written out member by
    member in key order, for `verify_audit`'s speed; tests hold it equal to `canonical_bytes`."""
    person = "null" if person_id is None else int(person_id)
    return (
        f'{{"action":{quote(action)},"actor_id":{quote(actor_id)},'
        f'"actor_kind":{quote(actor_kind)},"actor_label":{quote(actor_label)},'
        f'"ip":{quote(ip)},"occurred_at":{quote(instant)},"payload":{payload_json},'
        f'"person_id":{person},"prev_hash":{quote(prev_hash)},"seq":{int(seq)},'
        f'"subject_id":{quote(subject_id)},"subject_type":{quote(subject_type)},'
        f'"user_agent":{quote(user_agent)},"v":{FORMAT_VERSION}}}'
    )

import base64
from datetime import UTC
from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from ledger import tasks
from ledger.chain import HASHED_FIELDS, event_hash
from ledger.checkpoints import LedgerBroken, write_checkpoint
from ledger.models import LedgerCheckpoint, LedgerHead
from ledger.services import Actor, record
from ledger.signing import (
    checkpoint_message,
    fingerprint,
    is_valid,
    load_private_key,
    public_base64,
    public_pem,
    sign,
    signing_key,
)
from ledger.testing import execute, triggers_dropped

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def signed() -> LedgerCheckpoint:
    checkpoint = write_checkpoint()
    assert checkpoint is not None
    return checkpoint


def verify_failure(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        call_command("verify_audit", *args, stdout=StringIO())
    assert error.value.returncode == 1
    return str(error.value)


def test_there_is_nothing_to_sign_in_an_empty_ledger():
    assert write_checkpoint() is None
    assert "no events yet" in run("audit_checkpoint")


def test_it_signs_the_head_once_per_move(events):
    checkpoint = signed()
    assert (checkpoint.seq, checkpoint.head_hash) == (5, events[-1].hash)
    assert write_checkpoint() is None
    record(action="consent.withdrawn", actor=Actor.person(42))
    assert signed().seq == 6
    assert list(LedgerCheckpoint.objects.values_list("seq", flat=True)) == [6, 5]


def test_the_signature_covers_the_documented_message(events):
    checkpoint = signed()
    message = checkpoint_message(
        seq=checkpoint.seq, head_hash=checkpoint.head_hash, created_at=checkpoint.created_at
    )
    created = checkpoint.created_at.astimezone(UTC)
    assert (
        message
        == (
            f'{{"created_at":"{created:%Y-%m-%dT%H:%M:%S.%f}Z","hash":"{events[-1].hash}",'
            f'"seq":5,"v":"sitter-checkpoint/1"}}'
        ).encode()
    )
    public = signing_key().public_key()
    assert checkpoint.key_fingerprint == fingerprint(public)
    assert is_valid(message, checkpoint.signature, public)
    assert not is_valid(message.replace(b'"seq":5', b'"seq":4'), checkpoint.signature, public)


def test_the_command_prints_the_checkpoint_to_keep_elsewhere(events):
    output = run("audit_checkpoint")
    assert output.startswith(f"checkpoint seq=5 hash={events[-1].hash} created_at=")
    assert "No new events since the checkpoint at seq 5" in run("audit_checkpoint")


def test_the_periodic_task_writes_a_checkpoint(events):
    assert django_settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]["task"] == (
        "ledger.tasks.write_checkpoint"
    )
    tasks.write_checkpoint()
    tasks.write_checkpoint()
    assert LedgerCheckpoint.objects.count() == 1


def test_it_refuses_to_sign_a_broken_chain(events):
    with triggers_dropped():
        execute("UPDATE ledger_auditevent SET action = 'x.y' WHERE seq = 4")
    with pytest.raises(LedgerBroken, match="event 4: hash mismatch"):
        write_checkpoint()
    with pytest.raises(CommandError, match="event 4: hash mismatch"):
        run("audit_checkpoint")
    assert not LedgerCheckpoint.objects.exists()


def test_it_only_rechecks_events_since_the_last_checkpoint_and_their_link_to_it(events):
    write_checkpoint()
    event = record(action="consent.withdrawn", actor=Actor.person(42))
    # Event 6 re-hashed onto a different past: internally consistent, but not linked to event 5.
    fields = {name: getattr(event, name) for name in HASHED_FIELDS} | {"prev_hash": "e" * 64}
    with triggers_dropped():
        execute(
            "UPDATE ledger_auditevent SET prev_hash = %s, hash = %s WHERE seq = 6",
            [fields["prev_hash"], event_hash(fields)],
        )
        LedgerHead.objects.update(hash=event_hash(fields))
    with pytest.raises(LedgerBroken, match="event 6: prev_hash does not match event 5"):
        write_checkpoint()


def test_verification_with_the_configured_key(events):
    write_checkpoint()
    assert ", 1 signed checkpoint " in run("verify_audit")


def test_verification_with_a_wrong_key_fails(events):
    write_checkpoint()
    stranger = public_base64(Ed25519PrivateKey.generate().public_key())
    assert "signed by unknown key" in verify_failure("--public-key", stranger)


def test_a_checkpoint_signed_by_another_key_under_our_fingerprint_fails(events):
    """Whoever can write the database can't sign: a forged checkpoint is caught."""
    created_at = timezone.now()
    message = checkpoint_message(seq=5, head_hash=events[-1].hash, created_at=created_at)
    LedgerCheckpoint.objects.create(
        seq=5,
        head_hash=events[-1].hash,
        signature=sign(message, Ed25519PrivateKey.generate()),
        key_fingerprint=fingerprint(signing_key().public_key()),
        created_at=created_at,
    )
    assert verify_failure().startswith("BROKEN: the checkpoint at seq 5: bad signature")


def test_an_altered_checkpoint_fails_its_signature(events):
    write_checkpoint()
    with triggers_dropped():
        execute("UPDATE ledger_ledgercheckpoint SET head_hash = %s", [events[3].hash])
    assert "the checkpoint at seq 5: bad signature" in verify_failure()


def test_an_externally_held_public_key_verifies_in_any_shape(events, tmp_path):
    write_checkpoint()
    public = signing_key().public_key()
    pem_file = tmp_path / "audit.pub"
    pem_file.write_text(public_pem(public))
    for shape in (public_base64(public), public_pem(public), str(pem_file)):
        assert run("verify_audit", "--public-key", shape).startswith("OK: 5 events")


def test_a_pem_private_key_works_as_configuration(events, settings):
    key = Ed25519PrivateKey.generate()
    settings.AUDIT_SIGNING_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    checkpoint = signed()
    assert checkpoint.key_fingerprint == fingerprint(key.public_key())


@pytest.mark.parametrize(
    "text",
    ["", "not a key", base64.b64encode(b"short").decode(), "-----BEGIN PRIVATE KEY-----\nxx"],
)
def test_a_malformed_private_key_is_refused(text):
    with pytest.raises(ValueError):
        load_private_key(text)


def test_the_public_key_command_prints_what_verification_needs():
    output = run("audit_public_key")
    public = signing_key().public_key()
    assert f"fingerprint: {fingerprint(public)}" in output
    assert f"base64: {public_base64(public)}" in output
    assert public_pem(public).strip() in output


def test_the_private_key_never_reaches_the_database(events):
    write_checkpoint()
    private = signing_key().private_bytes_raw()
    for row in LedgerCheckpoint.objects.values_list(flat=False):
        assert not any(private.hex() in str(value) for value in row)

"""Checkpoints mailed to witnesses, and `verify_audit` checking the ledger against what they kept."""

import json
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core import mail
from django.core.management import CommandError, call_command

from ledger import tasks
from ledger.models import LedgerCheckpoint
from ledger.signing import checkpoint_message, sign
from ledger.witness import statement
from tests.ledger.test_verify import rewrite_history_from, tamper, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Checkpoint ids the beat task queued for mailing."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.send_to_witnesses, "delay", ids.append)
    return ids


@pytest.fixture
def witnesses(settings, queued):
    settings.AUDIT_WITNESS_EMAILS = ["auditor@example.org", "archive@example.org"]
    return settings.AUDIT_WITNESS_EMAILS


def checkpoint_and_mail(queued: list[int]) -> None:
    """Beat's task, then the mailing task it queued, as a worker runs them."""
    tasks.write_checkpoint()
    while queued:
        tasks.send_to_witnesses(queued.pop(0))


def kept_statement(tmp_path: Path) -> Path:
    """What a witness saved from the last checkpoint mail."""
    message = mail.outbox[-1]
    name, content, mimetype = message.attachments[0]
    assert mimetype == "application/json"
    path = tmp_path / name
    path.write_text(content)
    return path


def test_each_checkpoint_is_mailed_to_the_witnesses(events, witnesses, queued, tmp_path):
    checkpoint_and_mail(queued)
    checkpoint = LedgerCheckpoint.objects.get()
    message = mail.outbox[-1]
    assert message.to == witnesses
    assert f"#{checkpoint.seq}" in message.subject and checkpoint.head_hash in message.body
    assert f"verify_audit --expect checkpoint-{checkpoint.seq}.json" in message.body
    assert json.loads(kept_statement(tmp_path).read_text()) == statement(checkpoint)

    checkpoint_and_mail(queued)  # nothing new to sign: nothing new to mail
    assert len(mail.outbox) == 1


def test_no_witnesses_no_mail(events, settings, queued):
    settings.AUDIT_WITNESS_EMAILS = []
    tasks.write_checkpoint()
    assert LedgerCheckpoint.objects.count() == 1 and queued == [] and mail.outbox == []


def test_the_command_mails_the_checkpoint_it_signs(events, witnesses):
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert "Sent to auditor@example.org, archive@example.org." in out.getvalue()
    assert len(mail.outbox) == 1


def test_a_kept_statement_reveals_history_rewritten_with_its_checkpoints(
    events, witnesses, queued, tmp_path
):
    checkpoint_and_mail(queued)
    kept = kept_statement(tmp_path)
    assert verify("--expect", str(kept)).startswith("OK: 5 events")

    # Whoever can write the database rewrites the chain and drops the checkpoints with it.
    rewrite_history_from(2, events)
    tamper("DELETE FROM ledger_ledgercheckpoint")
    assert verify().startswith("FAILED BROKEN: no signed checkpoint")
    assert verify("--expect", str(kept)).startswith(
        f"FAILED BROKEN: event 5: hash differs from the one in the witness file {kept.name}"
    )


def test_a_statement_signed_by_another_key_is_refused(events, witnesses, queued, tmp_path):
    checkpoint_and_mail(queued)
    kept = kept_statement(tmp_path)
    document = json.loads(kept.read_text())
    document["hash"] = "0" * 64
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    assert "the signature does not verify" in verify("--expect", str(forged))

    # Re-signed, but with a key that is not the portal's.
    checkpoint = LedgerCheckpoint.objects.get()
    message = checkpoint_message(
        seq=checkpoint.seq, head_hash="0" * 64, created_at=checkpoint.created_at
    )
    document["signature"] = sign(message, Ed25519PrivateKey.generate())
    forged.write_text(json.dumps(document))
    assert "not signed by this portal" in verify("--expect", str(forged))


@pytest.mark.parametrize("content", ["not json", "{}", '{"v": "other", "seq": 1}'])
def test_a_file_that_is_no_statement_is_named(content, events, tmp_path):
    path = tmp_path / "checkpoint-1.json"
    path.write_text(content)
    assert "not a" in verify("--expect", str(path))


def test_a_missing_file_is_a_usage_error(events):
    with pytest.raises(CommandError, match=r"checkpoint-N\.json"):
        call_command("verify_audit", "--expect", "/no/such/checkpoint.json")


def test_the_command_says_when_the_mail_failed_and_keeps_the_checkpoint(
    events, witnesses, monkeypatch
):
    def refuse(*args: object, **kwargs: object) -> int:
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    with pytest.raises(CommandError, match="stored, but mailing it to the witnesses failed"):
        call_command("audit_checkpoint", stdout=StringIO())
    assert LedgerCheckpoint.objects.count() == 1

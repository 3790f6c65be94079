"""Writing to the audit ledger: `record()` and the `Actor` who did it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from ledger import tasks
from ledger.chain import GENESIS_HASH, event_hash
from ledger.models import ActorKind, AuditEvent, LedgerHead
from ledger.payloads import clean_payload, clean_text
from portal.clients import client_ip
from portal.queueing import enqueue_on_commit

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

ACTION_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
# Events a tail cut must not be able to take back unnoticed: signed in a checkpoint right after
# they commit, not only at the next periodic one.
PROMPTLY_SIGNED = re.compile(
    r"(consent|withdrawal|destruction|retention)\..+|.+(withdrawn|deleted|destroyed)"
)
USER_AGENT_LENGTH = 512
# Control characters (NUL above all) in a client-supplied header: PostgreSQL rejects NUL, and
# none of them belong in evidence a person may read.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class LedgerCorrupted(RuntimeError):
    """The ledger's own bookkeeping is inconsistent; writing stops until someone looks."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it. Plain ids and labels, no foreign keys (ledger rows outlive what they name)."""

    kind: ActorKind
    id: str = ""
    label: str = ""

    @classmethod
    def staff(cls, user: AbstractBaseUser | AnonymousUser) -> Actor:
        if not user.is_authenticated or user.pk is None:
            raise ValueError("a staff actor must be a signed-in user")
        return cls(ActorKind.STAFF, str(user.pk), user.get_username())

    @classmethod
    def person(cls, person_id: int) -> Actor:
        # No name: the ledger can never forget, so it keeps the id and nothing more personal.
        return cls(ActorKind.PERSON, str(int(person_id)), "")

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        """A process acting on its own, e.g. ``Actor.system("worker.poll_sessions")``."""
        return cls(ActorKind.SYSTEM, "", label)


def record(
    *,
    action: str,
    actor: Actor,
    subject: models.Model | None = None,
    person_id: int | None = None,
    payload: Mapping[str, object] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one event to the ledger, inside the caller's transaction, and return it.

    The event commits with the caller's change or not at all: this joins the caller's transaction
    (or opens one when there is none) and never commits by itself. It takes no savepoint, so if
    the append fails, the caller's whole atomic block is rolled back even if the caller catches
    the error: a domain change can't be committed without its event.
    Writers are serialised on the `LedgerHead` row, which stays locked until the caller's
    transaction ends, so call this last in the transaction and never hold one open over network
    I/O. Consent, withdrawal and deletion events are signed in a checkpoint once they commit
    (`PROMPTLY_SIGNED`). `person_id` defaults to the acting person's id. `ValueError` if `action`
    is not a dotted lower-case name, `subject` is unsaved, or the payload breaks a rule of
    `ledger.payloads`.
    """
    if not ACTION_PATTERN.fullmatch(action) or len(action) > 100:
        raise ValueError(f"audit action {action!r} must be a dotted lower-case name")
    if person_id is None and actor.kind == ActorKind.PERSON:
        person_id = int(actor.id)
    fields: dict[str, object] = {
        "actor_kind": ActorKind(actor.kind).value,
        "actor_id": clean_text(actor.id, "actor id")[:64],
        "actor_label": clean_text(actor.label, "actor label")[:200],
        "action": action,
        "subject_type": "",
        "subject_id": "",
        "person_id": None if person_id is None else int(person_id),
        "payload": clean_payload(payload),
        "ip": client_ip(request) if request is not None else "",
        "user_agent": user_agent(request) if request is not None else "",
    }
    if subject is not None:
        if subject.pk is None:
            raise ValueError("an audit subject must be saved first")
        fields["subject_type"] = subject._meta.label_lower
        fields["subject_id"] = clean_text(str(subject.pk), "subject id")[:64]

    with transaction.atomic(savepoint=False):
        head = _lock_head()
        # The clock is read under the lock, so time order and chain order agree on one host.
        fields.update(seq=head.seq + 1, prev_hash=head.hash, occurred_at=timezone.now())
        event = AuditEvent(**fields, hash=event_hash(fields))
        event.save()
        LedgerHead.objects.filter(pk=head.pk).update(seq=event.seq, hash=event.hash)
    if PROMPTLY_SIGNED.fullmatch(action):
        enqueue_on_commit(tasks.write_checkpoint, sweep="the periodic audit-checkpoint")
    return event


def _lock_head() -> LedgerHead:
    """The head row, locked until the transaction ends (a no-op lock on SQLite, where the
    IMMEDIATE transaction already holds the database's only write lock)."""
    head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # Events committed by a first writer that won the race come with its head row.
        if AuditEvent.objects.exists() and not LedgerHead.objects.filter(pk=1).exists():
            raise LedgerCorrupted(
                "the ledger head row is missing but events exist; run verify_audit"
            )
        # First event ever, or the first after a test flush. Two first writers may race here:
        # the conflict-ignoring insert lets both through to the lock, where the second waits.
        LedgerHead.objects.bulk_create(
            [LedgerHead(pk=1, seq=0, hash=GENESIS_HASH)], ignore_conflicts=True
        )
        head = LedgerHead.objects.select_for_update().get(pk=1)
    # Checked under the lock, so no concurrent first writer can be mistaken for corruption.
    if head.seq == 0 and AuditEvent.objects.exists():
        raise LedgerCorrupted(
            "the ledger head row is missing or reset but events exist; run verify_audit"
        )
    return head


def user_agent(request: HttpRequest) -> str:
    raw = str(request.META.get("HTTP_USER_AGENT", ""))
    return _CONTROL.sub("", raw)[:USER_AGENT_LENGTH]

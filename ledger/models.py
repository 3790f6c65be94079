"""The audit ledger: append-only, hash-chained evidence of everything that matters.

Rows of `AuditEvent` and `LedgerCheckpoint` are written once and never changed. The database
refuses UPDATE, DELETE and TRUNCATE on both tables, and lets `LedgerHead` only move forward
(triggers, see `ledger.triggers`); the models
refuse it too, so a mistake fails loudly in Python before it reaches the database. Write events
with `ledger.services.record`, never with `AuditEvent.objects.create`.

There are no foreign keys: a row that can never be updated cannot follow ON DELETE SET NULL, and
evidence must outlive the rows it talks about. Actors and subjects are plain ids and labels.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.db import models

from ledger.chain import GENESIS_HASH


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or remove a ledger row from Django."""


class CanonicalJSONEncoder(json.JSONEncoder):
    """Stores payloads with sorted keys and no spaces, so the stored text is the canonical text.

    (PostgreSQL's jsonb keeps its own layout; the hash never depends on stored text anyway,
    only on the decoded value, see `ledger.chain`.)
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        super().__init__(**kwargs)


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model.__name__} rows are never updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError(f"{self.model.__name__} rows are never deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model.__name__} rows are never updated")


class AppendOnlyModel(models.Model):
    """Insert once; `save()` on a stored row and `delete()` raise `AppendOnlyError`."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are never updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{type(self).__name__} rows are never deleted")


class ActorKind(models.TextChoices):
    STAFF = "staff", "Staff user"
    PERSON = "person", "Authorizing person"
    SYSTEM = "system", "System"


class AuditEventQuerySet(AppendOnlyQuerySet):
    def for_person(self, person_id: int) -> AuditEventQuerySet:
        """Everything recorded about one person, oldest first: the body of their receipt."""
        return self.filter(person_id=person_id).order_by("seq")

    def for_subject(self, subject: models.Model) -> AuditEventQuerySet:
        return self.filter(
            subject_type=subject._meta.label_lower, subject_id=str(subject.pk)
        ).order_by("seq")


class AuditEvent(AppendOnlyModel):
    """One event of evidence. `hash` covers every other column; see `ledger.chain` for the exact
    canonical form an outside auditor can recompute it from."""

    # The chain position doubles as the primary key: contiguous from 1, one index fewer per insert.
    seq = models.PositiveBigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    subject_type = models.CharField(max_length=100, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    person_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict, encoder=CanonicalJSONEncoder)
    # Text, not inet: the hash covers these exact characters, and inet would re-spell some IPv6.
    ip = models.CharField("IP address", max_length=45, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        # Ids lead, so the admin's search by a bare id can use them too.
        indexes = [
            models.Index(fields=["subject_id", "subject_type"], name="ledger_subject_idx"),
            models.Index(fields=["actor_id", "actor_kind"], name="ledger_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    @property
    def actor_display(self) -> str:
        label = self.actor_label or self.actor_id
        return f"{self.actor_kind}: {label}" if label else str(self.actor_kind)

    @property
    def subject_display(self) -> str:
        return f"{self.subject_type} {self.subject_id}".strip()


class LedgerHead(models.Model):
    """The single row (pk 1) naming the last event. Writers lock it to take the next `seq`.

    It is updated on every append, so it is not append-only, but forward-only: the database lets it
    move only forward, to an event stored with the hash it names, and never deletes it (see
    `ledger.triggers`); `verify_audit` checks it against the chain. It is created by the first
    `record()`, not by a migration, so a test database flush leaves nothing inconsistent behind.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="ledger_head_single_row")
        ]

    def __str__(self) -> str:
        return f"head at #{self.seq}"


class LedgerCheckpoint(AppendOnlyModel):
    """A signed statement "the chain had event `seq` with hash `head_hash`". The signature is
    Ed25519 over the message in `ledger.signing.checkpoint_message`; the private key lives only in
    configuration, so whoever can write the database still cannot forge a checkpoint."""

    seq = models.PositiveBigIntegerField(unique=True)
    head_hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=128, help_text="Ed25519 signature, hex")
    key_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the raw 32-byte public key, hex"
    )
    created_at = models.DateTimeField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"checkpoint at #{self.seq}"

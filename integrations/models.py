"""API keys, idempotent answers, usage clearances, webhook endpoints and their deliveries.

Public ids say their kind (`key_…`, `clr_…`, `evt_…`); the API turns row ids of the other apps
into `per_12`, `ses_3`, … in `integrations.api.ids`.
"""

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.crypto import EncryptedTextField


class Scope(models.TextChoices):
    READ = "read", "Read persons, sessions, consents, groups, assets and clearances"
    INVITE = "invite", "Create persons and sessions, send invitations"
    UPLOAD = "upload", "Upload and delete assets"
    CLEAR = "clear", "Ask for usage clearances"
    WEBHOOKS = "webhooks", "Manage webhook endpoints"


KEY_PREFIX = "sitter_"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def usable(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A secret that lets a script act through the API. Only its SHA-256 is stored (the key has
    256 bits of randomness, so a fast hash is enough); the key itself is shown once.

    Each key acts through its own user without a password (`user`): the services the API calls
    take the acting user, and the ledger names that user, whose name is the key's public id."""

    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=24, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_key", editable=False
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=600, help_text="Requests a minute before the key gets 429 answers."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def mint() -> tuple[str, str]:
        """A new (public id, secret key). The key starts with its public id, so a key found in a
        log or a repository says which key to revoke."""
        public_id = f"key_{secrets.token_hex(6)}"
        return public_id, f"{KEY_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotentRequest(models.Model):
    """The first answer to a POST with an `Idempotency-Key`, replayed for 24 hours."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.BinaryField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_per_api_key")
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key}"


class ExternalReference(models.Model):
    """The studio's own id for a person, echoed in every answer and webhook about them."""

    person = models.OneToOneField(
        "verification.AuthorizingPerson", on_delete=models.CASCADE, related_name="external"
    )
    value = models.CharField(max_length=200, unique=True)

    def __str__(self) -> str:
        return self.value


class Clearance(models.Model):
    """One answer to "may these assets be used, for this project, now?", kept as evidence."""

    public_id = models.CharField(max_length=40, unique=True, editable=False)
    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="clearances")
    project = models.ForeignKey(
        "verification.Project", on_delete=models.PROTECT, related_name="clearances"
    )
    intended_use = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.public_id

    @staticmethod
    def new_public_id() -> str:
        return f"clr_{secrets.token_hex(12)}"


class ClearanceItem(models.Model):
    """The answer for one asset of a clearance."""

    class Reason(models.TextChoices):
        CLEARED = "cleared", "Cleared"
        WITHDRAWN = "withdrawn", "The consent was withdrawn"
        EXPIRED = "expired", "The consent has ended"
        KIND_NOT_COVERED = "kind_not_covered", "The consent does not cover this kind of media"
        OTHER_PROJECT = "other_project", "The asset is held under a consent for another project"
        ASSET_NOT_ACTIVE = "asset_not_active", "The asset is not Active"
        UNKNOWN = "unknown", "No such asset"

    clearance = models.ForeignKey(Clearance, on_delete=models.CASCADE, related_name="items")
    reference = models.CharField(max_length=200, help_text="The asset as the caller named it.")
    asset = models.ForeignKey(
        "assets.Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="clearances"
    )
    consent = models.ForeignKey(
        "verification.Consent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="clearances",
    )
    allowed = models.BooleanField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    valid_until = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["consent", "voided_at"]),
            models.Index(fields=["asset", "voided_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {'allowed' if self.allowed else self.reason}"


class WebhookEndpoint(models.Model):
    """A URL of the studio's that wants some event types, and its signing secrets."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types sent here.")
    secret = EncryptedTextField(editable=False)
    # During a rotation the old secret signs too, until this time.
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Paused after repeated failures; clear to resume."
    )
    failure_streak = models.PositiveIntegerField(default=0, editable=False)
    # While a worker sends to this endpoint: one sender at a time keeps the events in order.
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    @staticmethod
    def new_secret() -> str:
        import base64

        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

    def signing_secrets(self, now: datetime | None = None) -> list[str]:
        now = now or timezone.now()
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_until and self.previous_secret_until > now:
            keys.append(self.previous_secret)
        return keys

    def wants(self, event_type: str) -> bool:
        """Subscribed. A paused endpoint still gets its events queued: they wait for it."""
        return self.is_active and event_type in self.events


class WebhookEvent(models.Model):
    """One event for receivers, made from one ledger event: `public_id` is stable, so receivers
    de-duplicate on it (`webhook-id`)."""

    public_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40, db_index=True)
    ledger_seq = models.PositiveBigIntegerField()
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ledger_seq", "pk"]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint, retried with backoff until it succeeds or gives up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: the delivery log staff read."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class OutboxCursor(models.Model):
    """The single row (pk 1): the last ledger event turned into webhook events."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"outbox at #{self.seq}"


class ConsentMilestone(models.Model):
    """A consent's approaching or passed end, recorded once (its ledger event is the proof)."""

    class Kind(models.TextChoices):
        EXPIRING = "expiring", "Ends soon"
        EXPIRED = "expired", "Ended"

    consent = models.ForeignKey("verification.Consent", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consent", "kind"], name="one_milestone_per_kind")
        ]

    def __str__(self) -> str:
        return f"consent {self.consent_id} {self.kind}"

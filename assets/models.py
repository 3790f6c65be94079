"""Asset groups (one verified person at one upstream account) and the assets uploaded into them."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.models import StatusMachine


class AssetGroup(models.Model):
    """An upstream LivenessFace group. Only the account that created it can see or use it."""

    upstream_id = models.CharField(max_length=128)
    person = models.ForeignKey(
        "verification.AuthorizingPerson", on_delete=models.PROTECT, related_name="groups"
    )
    account = models.ForeignKey(
        "upstream.UpstreamAccount", on_delete=models.PROTECT, related_name="groups"
    )
    session = models.OneToOneField(
        "verification.VerificationSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="group",
    )
    group_type = models.CharField(max_length=32, default="LivenessFace")
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "upstream_id"], name="group_unique_per_account"
            )
        ]

    def __str__(self) -> str:
        return self.upstream_id


class Asset(StatusMachine):
    """One uploaded file on its way to the upstream, and the upstream asset it became."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        VALIDATED = "validated", "Checked"
        FORWARDING = "forwarding", "Sending to upstream"
        PROCESSING = "processing", "Upstream processing"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed upstream"
        # The upstream holds it but reports it Inactive: not usable as asset://, not followed.
        INACTIVE = "inactive", "Inactive upstream, not usable"
        REJECTED = "rejected", "Refused"
        DELETED = "deleted", "Deleted"

    TERMINAL = (Status.ACTIVE, Status.FAILED, Status.INACTIVE, Status.REJECTED, Status.DELETED)

    group = models.ForeignKey(AssetGroup, on_delete=models.PROTECT, related_name="assets")
    kind = models.CharField(
        max_length=8,
        choices=Kind.choices,
        blank=True,
        help_text="Blank when the content could not be identified.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    original_name = models.CharField(max_length=255)
    # Unique within the group upstream: how a lost CreateAsset answer is found again.
    upstream_name = models.CharField(max_length=64, unique=True)
    size_bytes = models.BigIntegerField()
    # Evidence of the file as the person or staff sent it: what they can hash themselves.
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the file as uploaded.")
    forwarded_sha256 = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the copy kept and sent upstream: the upload with its location and "
        "device metadata removed. Equal to sha256 when there was nothing to remove; blank for "
        "refused files.",
    )
    content_type = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to="assets/%Y/%m/", blank=True, max_length=255)
    facts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    upstream_id = models.CharField(max_length=128, blank=True)
    upstream_status = models.CharField(max_length=32, blank=True)
    error_code = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by_person = models.BooleanField(default=False)
    consent = models.ForeignKey(
        "verification.Consent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assets",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    forwarded_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    # While a worker forwards the file; a worker killed mid-upload leaves it to expire.
    lease_until = models.DateTimeField(null=True, blank=True)
    forward_attempts = models.PositiveSmallIntegerField(default=0)
    # Set once the worker has run the face pre-check (images and videos), so a retried forward
    # doesn't run it again.
    face_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_check_at"])]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def asset_uri(self) -> str:
        return f"asset://{self.upstream_id}" if self.status == self.Status.ACTIVE else ""

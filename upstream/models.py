from django.db import models

from portal.crypto import EncryptedTextField


class Adapter(models.TextChoices):
    ANYFAST = "anyfast", "Anyfast gateway"
    BYTEPLUS = "byteplus", "BytePlus direct"


class UpstreamAccount(models.Model):
    """One set of upstream credentials. Groups and sessions remember the account that made them:
    the upstream shows a group only to the credential that created it."""

    name = models.CharField(max_length=100, unique=True)
    adapter = models.CharField(max_length=16, choices=Adapter.choices, default=Adapter.ANYFAST)
    base_url = models.URLField(
        help_text="e.g. https://www.anyfast.ai or https://ark.ap-southeast-1.byteplusapi.com"
    )
    # Anyfast: a Bearer token from the Byteplus-Direct token group.
    api_token = EncryptedTextField(blank=True)
    # BytePlus direct: an access key pair and region.
    access_key_id = models.CharField(max_length=128, blank=True)
    secret_access_key = EncryptedTextField(blank=True)
    region = models.CharField(max_length=32, blank=True, default="ap-southeast-1")
    project_name = models.CharField(max_length=64, blank=True, default="default")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_adapter_display()})"


class UpstreamCall(models.Model):
    """One upstream request, for debugging by staff. Never holds credentials or media bytes."""

    account = models.ForeignKey(UpstreamAccount, on_delete=models.PROTECT, related_name="calls")
    action = models.CharField(max_length=64)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=128, blank=True)
    error_message = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} → {self.http_status or 'no answer'}"

    @property
    def ok(self) -> bool:
        return (
            self.http_status is not None and 200 <= self.http_status < 300 and not self.error_code
        )

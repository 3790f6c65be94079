from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from portal.crypto import EncryptedTextField


class Heartbeat(models.Model):
    """The last time a periodic job ran: proof for /readyz that beat and a worker are alive."""

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class StatusMachine(models.Model):
    """A `status` field moved only by compare-and-swap, so a duplicate task, a late callback or two
    workers racing do no harm: side effects belong after a `move()` that returned True."""

    status: models.CharField
    # The statuses nothing moves on from; each model names its own.
    TERMINAL: tuple[str, ...] = ()

    class Meta:
        abstract = True

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    def move(self, old: str | tuple[str, ...], new: str, **fields: object) -> bool:
        olds = (old,) if isinstance(old, str) else old
        # Keyword dicts: the subclasses declare `status` and `updated_at`, this mixin can't.
        moved = (
            type(self)
            ._default_manager.filter(**{"pk": self.pk, "status__in": olds})
            .update(**{"status": new, "updated_at": timezone.now(), **fields})
        )
        if moved:
            # Only what changed: a full refresh would also drop the related objects already loaded.
            self.refresh_from_db(fields=["status", "updated_at", *fields])
        return bool(moved)


class EncryptedTOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """A staff member's authenticator app (TOTP), its secret stored encrypted like the upstream
    credentials (`FIELD_ENCRYPTION_KEYS`, rotated by `rotate_encryption_key`). django-otp's own
    TOTPDevice keeps the secret in plain text, readable by anyone who reads a backup.

    The behaviour is django-otp's TOTPDevice's, borrowed unchanged: it reads only these fields,
    and `key` decrypts to the same hex text it expects."""

    key = EncryptedTextField(default=default_key, help_text="Hex secret, stored encrypted.")
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    bin_key = TOTPDevice.bin_key
    verify_token = TOTPDevice.verify_token
    get_throttle_factor = TOTPDevice.get_throttle_factor
    config_url = TOTPDevice.config_url
    _read_str_from_settings = TOTPDevice._read_str_from_settings

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

from django.db import models
from django.utils import timezone


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

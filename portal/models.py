from django.db import models


class Heartbeat(models.Model):
    """The last time a periodic job ran: proof for /readyz that beat and a worker are alive."""

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"

"""A task for tests/portal/test_broker.py, imported by the real worker it starts (`-I`)."""

import os

from celery import shared_task


@shared_task(name="tests.broker.note")
def note(number: int) -> None:
    """Append the number to NOTES_FILE, one line per delivery (small appends don't interleave)."""
    with open(os.environ["NOTES_FILE"], "a") as notes:
        notes.write(f"{number}\n")

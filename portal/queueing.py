"""Queueing background tasks once the data they act on is committed.

The broker can be unreachable while the database is up (Redis restarting or failing over). By the
time the message is sent the change is committed, so failing the request then would tell a person
that their consent or upload was not taken when it was. The failure is logged instead, and the work
is left to the periodic sweep that finds it from the database state; every caller names its sweep.
"""

import logging

from celery.app.task import Task
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args: object, sweep: str) -> None:
    """Send `task(*args)` after the current transaction commits (at once outside a transaction).

    `sweep` names the periodic task that picks the work up when the broker refuses the message.
    """

    def send() -> None:
        try:
            task.delay(*args)
        except OperationalError as error:
            logger.warning(
                "could not queue %s%r, the broker is unreachable (%s); %s will pick it up",
                task.name,
                args,
                error,
                sweep,
            )

    transaction.on_commit(send)

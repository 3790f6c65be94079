"""Many writers at once, each in its own transaction and connection, as web and worker processes
append: the chain must come out contiguous and valid."""

import threading
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction

from ledger.checkpoints import write_checkpoint
from ledger.models import AuditEvent, LedgerHead
from ledger.services import Actor, record

WRITERS = 50
EVENTS_EACH = 4


@pytest.mark.usefixtures("threaded_db")
def test_fifty_concurrent_writers_leave_a_contiguous_valid_chain():
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    User = get_user_model()

    def write(writer: int) -> None:
        try:
            start.wait()
            for n in range(EVENTS_EACH):
                # A domain change and its event, committed together.
                with transaction.atomic():
                    user = User.objects.create_user(username=f"w{writer}-{n}")
                    record(action="staff.created", actor=Actor.system(), subject=user)
        except BaseException as error:  # the main thread reports it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = WRITERS * EVENTS_EACH
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, total + 1)
    )
    assert User.objects.count() == total
    assert LedgerHead.objects.get().seq == total
    write_checkpoint()
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().startswith(f"OK: {total} events")

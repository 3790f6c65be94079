"""A second Celery beat is harmless: every scheduled sweep, run by two beats at the same moment,
does each piece of work once (docs/operations.md says to run one beat per deployment)."""

import contextlib
import threading
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from assets import services
from assets.models import Asset
from ledger.models import AuditEvent
from portal.celery import app
from tests.assets.test_intake import run_forwarding_and_checks, upload
from tests.journey import make_verified_group

Status = Asset.Status


@contextlib.contextmanager
def eager_tasks() -> Iterator[None]:
    """Tasks a sweep queues run at once, in the sweep's thread, as a worker would run them."""
    app.loader.import_default_modules()  # what a worker does at start: every task registered
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def beat(start: threading.Barrier, failures: list[BaseException]) -> None:
    """One beat firing every scheduled task at once."""
    try:
        start.wait(timeout=30)
        for entry in settings.CELERY_BEAT_SCHEDULE.values():
            app.tasks[entry["task"]].apply(throw=True)
    except BaseException as error:  # reported to the test, which fails on it
        failures.append(error)
    finally:
        connection.close()


def test_two_beats_sweeping_together_do_each_piece_of_work_once(
    media_storage,
    ledger_transactional,
    settings,
    staff_user,
    person,
    account,
    project,
    consent_text,
    simulator,
    media,
    client,
):
    settings.ASSET_FORWARDING_MODE = "inline"
    group = make_verified_group(person, account, project, consent_text, staff_user, simulator)
    client.force_login(staff_user)
    for name in ("stalled.wav", "processing.wav", "expired.wav"):
        assert upload(client, group, media.wav(2.0), name).status_code == 201
    stalled, processing, expired = Asset.objects.order_by("pk")
    past = timezone.now() - timedelta(minutes=5)
    # A forward whose queued message was lost; one forwarded but never checked since; one
    # settled long ago, its stored copy past the retention period.
    Asset.objects.filter(pk=stalled.pk).update(next_check_at=past)
    services.forward(asset_id=processing.pk)
    Asset.objects.filter(pk=processing.pk).update(next_check_at=past)
    expired = run_forwarding_and_checks(expired)
    assert expired.status == Status.ACTIVE
    Asset.objects.filter(pk=expired.pk).update(
        completed_at=timezone.now() - timedelta(days=settings.RETENTION_LOCAL_MEDIA_DAYS + 1)
    )
    creates_before = len(simulator.requests_for("CreateAsset"))

    start, failures = threading.Barrier(2), list[BaseException]()
    beats = [threading.Thread(target=beat, args=(start, failures)) for _ in range(2)]
    with eager_tasks():
        for thread in beats:
            thread.start()
        for thread in beats:
            thread.join(timeout=120)
    assert not failures, failures

    stalled.refresh_from_db()
    processing.refresh_from_db()
    expired.refresh_from_db()
    assert stalled.status == Status.ACTIVE or stalled.status == Status.PROCESSING
    assert processing.status == Status.ACTIVE
    assert not expired.file and not services.storage.exists(expired.file.name)
    # Each piece of work once: one upstream create for the stalled forward, one of each event.
    assert len(simulator.requests_for("CreateAsset")) == creates_before + 1
    assert AuditEvent.objects.filter(action="asset.forwarded").count() == 3
    assert (
        AuditEvent.objects.filter(action="asset.active", subject_id=str(processing.pk)).count() == 1
    )
    assert AuditEvent.objects.filter(action="asset.local_copy_destroyed").count() == 1

"""Redis down (broker and cache), the database up: what the portal acknowledged is stored, no page
fails with a server error, and the periodic sweeps do the work whose task could not be queued.

The process-level chaos test (tests/chaos/test_process_faults.py) stops a real Redis; these pin each
case down quickly: the broker refuses the message as Celery does after its publish retries.
"""

import logging
import re
import socket
import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import InterfaceError
from django.db import OperationalError as DatabaseUnreachable
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError

from assets import services as asset_services
from assets.models import Asset
from tests.assets.test_intake import upload
from tests.simulator_harness import ROOT, free_port
from verification import receipts, services, withdrawal
from verification.models import Consent, Invitation

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    from portal.celery import app

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", refuse)


@pytest.fixture
def cache_down(settings):
    """A Redis cache on a port nobody listens on: every call fails as with Redis stopped."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }


@pytest.fixture
def cache_hangs(settings):
    """A Redis that accepts connections and never answers (hung, or its host unreachable)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes the handshakes; nobody ever reads or writes
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }
    yield
    silent.close()


@pytest.fixture
def link(person, account, project, consent_text, staff_user) -> str:
    session = services.start_session(
        person=person,
        account_id=account.pk,
        project=project,
        consent_text=consent_text,
        media_kinds=["image", "video", "audio"],
        channel="in_person",
        user=staff_user,
    )
    return services.show_link(session=session, user=staff_user).removeprefix(
        "http://127.0.0.1:8000"
    )


def later(**delta: float) -> time_machine.travel:
    return time_machine.travel(timezone.now() + timedelta(**delta))


def test_a_consent_given_while_the_broker_is_down_is_taken_and_its_receipt_sent_later(
    phone, person, link, broker_down, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(
            f"{link}consent/", {"signature_name": person.full_name, "agree": "on"}
        )

    assert response.status_code == 302  # on to liveness, as on any day
    consent = Consent.objects.get()
    assert "could not queue verification.tasks.send_receipt" in caplog.text
    assert "verification.tasks.sweep_receipts will pick it up" in caplog.text
    with later(minutes=2):
        assert receipts.unsent_receipts() == [consent.pk]
    assert receipts.email_receipt(consent_id=consent.pk)
    assert receipts.email_receipt(consent_id=consent.pk)  # the late original task: no second mail
    assert [message.to for message in mail.outbox] == [[person.email]]
    with later(minutes=2):
        assert receipts.unsent_receipts() == []


def test_a_receipt_the_mail_server_refused_is_tried_again_by_the_sweep(verified_group, settings):
    consent = Consent.objects.get()
    settings.MAILERS = {"default": {"BACKEND": "tests.verification.failing_mail.RefusingBackend"}}

    assert not receipts.email_receipt(consent_id=consent.pk)
    consent.refresh_from_db()
    assert consent.receipt_sent_at is None  # the claim is let go
    with later(minutes=2):
        assert receipts.unsent_receipts() == [consent.pk]
    with later(days=2):
        assert receipts.unsent_receipts() == []  # given up after a day; still downloadable


def test_an_invitation_queued_while_the_broker_is_down_is_sent_by_the_sweep(
    staff_client, person, account, project, consent_text, broker_down
):
    response = staff_client.post(
        f"/persons/{person.pk}/verify/",
        {
            "account": account.pk,
            "project": project.pk,
            "consent_text": consent_text.pk,
            "media_kinds": ["image"],
            "channel": "email",
        },
    )

    assert response.status_code == 302
    invitation = Invitation.objects.get(status=Invitation.Status.PENDING)
    assert services.invitations_to_deliver() == []  # its own task may still be on the way
    with later(minutes=2):
        assert services.invitations_to_deliver() == [invitation.pk]
    services.deliver_invitation(invitation_id=invitation.pk)
    assert mail.outbox[-1].to == [person.email]
    with later(minutes=2):
        assert services.invitations_to_deliver() == []


def test_an_upload_taken_while_the_broker_is_down_is_forwarded_by_the_sweep(
    staff_client, verified_group, media, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(staff_client, verified_group, media.image((800, 1000)), "me.jpg")

    assert response.status_code == 201
    asset = Asset.objects.get()
    assert asset.status == Asset.Status.VALIDATED
    with later(minutes=3):
        assert asset_services.stalled_forwarding_ids() == [asset.pk]


def test_a_withdrawal_while_the_broker_is_down_is_carried_out_by_the_sweep(
    phone, staff_user, verified_group, broker_down, django_capture_on_commit_callbacks
):
    link = services.show_link(session=verified_group.session, user=staff_user).removeprefix(
        "http://127.0.0.1:8000"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(f"{link}withdraw/")

    assert response.status_code == 200 and b"Your consent is withdrawn" in response.content
    with later(minutes=6):
        assert withdrawal.withdrawn_not_destroyed() == [Consent.objects.get().pk]


def test_person_pages_work_without_the_cache_and_say_so_in_the_log(phone, link, cache_down, caplog):
    with caplog.at_level(logging.WARNING, logger="portal.throttle"):
        assert phone.get(link).status_code == 200
        assert phone.get("/p/not-a-real-link-token-at-all/").status_code == 404
    assert "rate limit link-miss not applied, the cache is unreachable" in caplog.text
    assert "203.0.113.7" not in caplog.text  # the phone's address stays out of the log


def test_a_hung_cache_costs_a_person_page_seconds_not_the_page(phone, link, cache_hangs, caplog):
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="portal.throttle"):
        assert phone.get(link).status_code == 200
    # A second or two of timed-out cache calls (redis-py's own default of 5 s a call: 5–10 s).
    assert time.monotonic() - started < 4
    assert "rate limit link-miss not applied" in caplog.text


def test_every_sweep_named_for_a_lost_task_is_scheduled(settings):
    apps = ("portal", "ledger", "upstream", "verification", "assets")
    product = [path for app in apps for path in (ROOT / app).glob("**/*.py")]
    named = {
        sweep for path in product for sweep in re.findall(r'sweep="([\w.]+)"', path.read_text())
    }
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert len(named) >= 4 and named <= scheduled, named - scheduled


@pytest.mark.parametrize(
    "error",
    [
        DatabaseUnreachable('connection to server at "127.0.0.1" failed: Connection refused'),
        InterfaceError("connection already closed"),
    ],
)
def test_a_database_that_cannot_be_reached_answers_try_again_not_server_error(
    link, monkeypatch, error
):
    def unreachable(token: str) -> None:
        raise error

    monkeypatch.setattr(services, "look_up_link", unreachable)
    phone = Client(raise_request_exception=False)

    response = phone.get(link)

    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert b"try again in a minute" in response.content


def test_other_failures_stay_server_errors(link, monkeypatch):
    def broken(token: str) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(services, "look_up_link", broken)

    assert Client(raise_request_exception=False).get(link).status_code == 500

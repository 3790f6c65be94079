"""A soak under injected upstream faults: full journeys while the simulator fails, throttles, hangs
and commits-then-drops. Afterwards nothing is lost, nothing duplicated, nothing stuck, and the
ledger verifies.

Process-level faults (killing a worker mid-forward, stopping Redis, restarting PostgreSQL,
blackholing the upstream) are not driven here: this soak runs the workers' code in the test
process, step by step, which is what makes its outcome checkable.
"""

import contextlib
import random
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from assets import services as asset_services
from assets.models import Asset
from ledger.models import AuditEvent
from tests.chaos.faults import FAULTS
from tests.journey import PHONE, callback_path
from verification import liveness, services
from verification.models import AuthorizingPerson, Consent, VerificationSession

pytestmark = [pytest.mark.chaos, pytest.mark.django_db]

JOURNEYS = 8


def inject(simulator, rng: random.Random) -> None:
    action, fault = rng.choice(FAULTS)
    simulator.control("POST", "faults", json={"action": action, "count": 1, **fault})


def settle(step, *, rounds: int = 40) -> None:
    """Run a worker step until it reports nothing left, moving the clock past every backoff."""
    now = timezone.now()
    for round_number in range(rounds):
        with time_machine.travel(now + timedelta(minutes=2 * round_number + 1)):
            if not step():
                return
    raise AssertionError(f"{step.__name__} never settled")


def test_journeys_under_upstream_faults_lose_and_duplicate_nothing(
    simulator, account, project, consent_text, staff_user, staff_client, media, settings
):
    settings.ASSET_FORWARDING_MODE = "inline"
    settings.UPSTREAM_READ_TIMEOUT = 1.0
    settings.UPSTREAM_RETRY_BUDGET = 2
    rng = random.Random(20261126)
    acknowledged = accepted = 0
    for number in range(JOURNEYS):
        person = AuthorizingPerson.objects.create(
            full_name=f"Person {number}", email=f"p{number}@example.com"
        )
        session = services.start_session(
            person=person,
            account_id=account.pk,
            project=project,
            consent_text=consent_text,
            media_kinds=["image", "video", "audio"],
            channel="in_person",
            user=staff_user,
        )
        link = services.show_link(session=session, user=staff_user).removeprefix(
            "http://127.0.0.1:8000"
        )
        phone = Client(HTTP_USER_AGENT=PHONE)
        inject(simulator, rng)
        response = phone.post(
            f"{link}consent/", {"signature_name": person.full_name, "agree": "on"}
        )
        # Acknowledged: the phone went on to liveness, or was shown the verification step.
        if response.status_code == 302 or b"Verify that it is you" in response.content:
            acknowledged += 1
        while response.status_code != 302:  # the upstream refused to start: press the button again
            response = phone.post(f"{link}start/")
        attempt = session.attempts.order_by("-created_at")[0]
        callback = simulator.complete(attempt.byted_token)
        if number % 2:  # half the phones come back; the sweep finds the others
            inject(simulator, rng)
            phone.get(callback_path(callback))

    def poll_round() -> bool:
        token, ids = liveness.claim_due_attempts()
        for attempt_id in ids:
            if rng.random() < 0.3:
                inject(simulator, rng)
            liveness.poll_attempt(attempt_id=attempt_id, lease_token=token)
        return VerificationSession.objects.filter(status="verifying").exists()

    settle(poll_round)
    assert VerificationSession.objects.filter(status="verified").count() == JOURNEYS

    for session in VerificationSession.objects.select_related("group"):
        for path in (media.image((800, 1000)), media.wav(3.0)):
            with path.open("rb") as handle:
                response = staff_client.post(
                    f"/groups/{session.group.pk}/upload/",
                    {"files": SimpleUploadedFile(path.name, handle.read())},
                    headers={"Accept": "application/json"},
                )
            accepted += response.status_code == 201

    def forward_round() -> bool:
        for asset_id in asset_services.stalled_forwarding_ids() + list(
            Asset.objects.filter(status="validated", next_check_at__isnull=True).values_list(
                "pk", flat=True
            )
        ):
            if rng.random() < 0.4:
                inject(simulator, rng)
            # A ForwardLater is the task's retry, which the next round plays.
            with contextlib.suppress(asset_services.ForwardLater):
                asset_services.forward(asset_id=asset_id)
        for asset_id in asset_services.claim_due_checks():
            asset_services.refresh_status(
                asset=Asset.objects.select_related("group__account").get(pk=asset_id)
            )
        return Asset.objects.filter(status__in=("validated", "forwarding", "processing")).exists()

    simulator.control("POST", "switches", json={"processing_seconds": 0})
    settle(forward_round)

    # Nothing lost: every consent acknowledged is stored and in the ledger.
    assert (
        acknowledged
        == Consent.objects.count()
        == AuditEvent.objects.filter(action="consent.given").count()
        == JOURNEYS
    )
    # Every accepted upload ended somewhere final, with a reason when it did not become Active.
    assert Asset.objects.count() == accepted == 2 * JOURNEYS
    statuses = Counter(Asset.objects.values_list("status", flat=True))
    assert set(statuses) <= {"active", "failed", "rejected"}
    assert all(a.error_message for a in Asset.objects.exclude(status="active"))
    # Nothing duplicated upstream.
    names = Counter(
        asset["name"]
        for credential in simulator.control("GET", "state")["credentials"].values()
        for asset in credential["assets"]
        if not asset.get("deleted")
    )
    assert names and max(names.values()) == 1
    assert len(names) == statuses["active"] + statuses["failed"]
    call_command("audit_checkpoint")  # what beat does every interval; no worker runs here
    call_command("verify_audit")

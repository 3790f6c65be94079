"""Liveness polling at scale.

1. With 10,000 sessions waiting, one sweep's database queries per batch do not grow with the batch.
2. The portal's own overhead per poll, against the simulator answering at once: a full
   `poll_attempt` compared with the bare upstream call it makes, in the same run.
3. Callback to "verified": the callback request (which confirms with the upstream) plus the staff
   page's status fragment, in milliseconds.
4. Callback to "verified" as staff see it: a poller does what the session page does (a
   conditional GET of the status fragment, then waits the interval) while the person's callback
   arrives at a random moment; the time from the callback to the poll that shows "Verified", at
   the old 2 s interval and the page's 0.5 s, in the same run.

Run: python -m benchmarks.verification_sweep [--sessions 10000] [--polls 200]
"""

import argparse
import time
from datetime import timedelta

from benchmarks.scratch import django_ready, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=200)
    args = parser.parse_args()
    folder = django_ready("sweep")

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tests.simulator_harness import start_simulator, stop_simulator
    from upstream.factory import client_for
    from upstream.models import Adapter, UpstreamAccount
    from verification import liveness
    from verification.models import (
        AuthorizingPerson,
        ConsentText,
        LivenessAttempt,
        Project,
        VerificationSession,
    )

    simulator = start_simulator(folder)
    try:
        simulator.reset()
        account = UpstreamAccount.objects.create(
            name="bench", adapter=Adapter.ANYFAST, base_url=simulator.url, api_token=simulator.token
        )
        person = AuthorizingPerson.objects.create(full_name="Bench Person")
        project = Project.objects.create(name="Bench", intended_use="Benchmarks.")
        text = ConsentText.objects.create(title="Consent", version="1", body="Words.")
        now = timezone.now()
        sessions = VerificationSession.objects.bulk_create(
            VerificationSession(
                person=person,
                account=account,
                project=project,
                consent_text=text,
                channel="email",
                status="verifying",
            )
            for _ in range(args.sessions)
        )
        client = client_for(account)
        real_tokens = [
            client.start_verification(callback_url="http://127.0.0.1/cb").byted_token
            for _ in range(args.polls)
        ]
        LivenessAttempt.objects.bulk_create(
            LivenessAttempt(
                session=session,
                ref=f"bench-{index}",
                byted_token=real_tokens[index % len(real_tokens)],
                byted_token_hash=f"{index:064d}",
                h5_expires_at=now,
                expires_at=now + timedelta(hours=1),
                next_poll_at=now - timedelta(seconds=1),
            )
            for index, session in enumerate(sessions)
        )

        print(f"Sweep with {args.sessions} attempts due ({connection.vendor}):")
        print(f"{'batch':>8} {'queries':>8} {'ms':>8}")
        for batch in (10, 100, 1000):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                _, ids = liveness.claim_due_attempts(batch=batch)
                elapsed = (time.perf_counter() - started) * 1000
            LivenessAttempt.objects.filter(pk__in=ids).update(lease_until=None, lease_token="")
            print(f"{batch:>8} {len(queries):>8} {elapsed:>8.1f}")

        bare, full = [], []
        for token in real_tokens:
            started = time.perf_counter()
            client.get_verification_result(byted_token=token)
            bare.append(time.perf_counter() - started)
        lease, ids = liveness.claim_due_attempts(batch=args.polls)
        for attempt_id in ids:
            started = time.perf_counter()
            liveness.poll_attempt(attempt_id=attempt_id, lease_token=lease)
            full.append(time.perf_counter() - started)
        print(
            f"\nPer poll, median of {len(full)}: bare upstream call {median(bare) * 1000:.2f} ms, "
            f"full poll {median(full) * 1000:.2f} ms, ratio {median(full) / median(bare):.2f}x, "
            f"portal overhead {(median(full) - median(bare)) * 1000:.2f} ms"
        )

        _callback_to_verified(simulator, account, person, project, text)
    finally:
        stop_simulator(simulator)


def _callback_to_verified(simulator, account, person, project, text) -> None:
    from urllib.parse import urlsplit

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from verification import liveness
    from verification.models import VerificationSession

    staff = get_user_model().objects.create_user("bench-staff", is_staff=True)
    staff.groups.set(Group.objects.filter(name="coordinator"))
    staff_client, phone = Client(), Client()
    staff_client.force_login(staff)
    callback_ms, status_ms = [], []
    for _ in range(20):
        session = VerificationSession.objects.create(
            person=person,
            account=account,
            project=project,
            consent_text=text,
            channel="in_person",
            status="consented",
        )
        liveness.start_liveness(session=session, request=None)
        attempt = session.attempts.get()
        url = urlsplit(simulator.complete(attempt.byted_token))
        started = time.perf_counter()
        phone.get(f"{url.path}?{url.query}")
        callback_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        body = staff_client.get(
            f"/sessions/{session.pk}/status/", headers={"HX-Request": "true"}
        ).content
        status_ms.append((time.perf_counter() - started) * 1000)
        assert b"Verified" in body
    print(
        f"\nCallback to verified, median of 20: callback {median(callback_ms):.1f} ms "
        f"+ staff status fragment {median(status_ms):.1f} ms"
    )
    seen = {
        interval: _seen_by_staff(simulator, staff_client, phone, session_args, interval)
        for interval in (2.0, 0.5)
        for session_args in [(person, account, project, text)]
    }
    for interval, delays in seen.items():
        print(
            f"Callback to 'Verified' on the staff page, polling every {interval:g} s, "
            f"median of {len(delays)}: {median(delays) * 1000:.0f} ms "
            f"(max {max(delays) * 1000:.0f} ms)"
        )
    print(f"Ratio 0.5 s / 2 s: {median(seen[0.5]) / median(seen[2.0]):.2f}")


def _seen_by_staff(simulator, staff_client, phone, session_args, interval, runs=12) -> list[float]:
    """Seconds from the callback's start to the first poll showing the session verified."""
    import random
    import threading
    from urllib.parse import urlsplit

    from django.db import connections

    from verification import liveness
    from verification.models import VerificationSession

    person, account, project, text = session_args
    delays = []
    for _ in range(runs):
        session = VerificationSession.objects.create(
            person=person,
            account=account,
            project=project,
            consent_text=text,
            channel="in_person",
            status="consented",
        )
        liveness.start_liveness(session=session, request=None)
        url = urlsplit(simulator.complete(session.attempts.get().byted_token))
        seen_at: list[float] = []

        def poll(pk: int = session.pk, seen_at: list[float] = seen_at) -> None:
            tag = ""
            try:
                while not seen_at:
                    response = staff_client.get(
                        f"/sessions/{pk}/status/",
                        headers={"HX-Request": "true", "If-None-Match": tag},
                    )
                    tag = response.get("ETag", tag)
                    if response.status_code == 286:
                        seen_at.append(time.perf_counter())
                        return
                    time.sleep(interval)
            finally:
                connections.close_all()

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(random.uniform(0, interval))  # the person comes back at any moment
        fired = time.perf_counter()
        phone.get(f"{url.path}?{url.query}")
        poller.join(timeout=30)
        delays.append(seen_at[0] - fired)
    return delays


if __name__ == "__main__":
    main()

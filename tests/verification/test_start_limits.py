"""A link starts a liveness check (a billed upstream call) only when its last one is finished or
expired, and at most LIVENESS_STARTS_PER_HOUR times an hour; the result page asks the upstream
about an attempt at most once per LIVENESS_RESULT_CHECK_SECONDS (issue 12)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.journey import callback_path, consent_and_start, latest_attempt
from verification import limits
from verification.models import LivenessAttempt

pytestmark = pytest.mark.django_db


def test_pressing_start_sixty_times_makes_one_billed_call(start_by_email, phone, simulator):
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)  # consenting starts the first check
    answers = [phone.post(f"{link}start/").status_code for _ in range(60)]
    assert set(answers) == {429}
    assert len(simulator.requests_for("CreateVisualValidateSession")) == 1
    assert session.attempts.count() == 1
    page = phone.post(f"{link}start/").content.decode()
    assert "still open" in page and "seconds" in page


def test_a_new_check_once_the_last_expired_and_at_most_five_an_hour(
    start_by_email, phone, simulator, settings
):
    assert settings.LIVENESS_STARTS_PER_HOUR == 5
    session, link = start_by_email()
    phone.get(link)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        consent_and_start(phone, link)
        for _ in range(4):
            clock.shift(settings.LIVENESS_LINK_TTL + timedelta(seconds=1))
            assert phone.post(f"{link}start/").status_code == 302
        clock.shift(settings.LIVENESS_LINK_TTL + timedelta(seconds=1))
        refused = phone.post(f"{link}start/")
        assert refused.status_code == 429
        assert "5 times in the last hour" in refused.content.decode()
        assert len(simulator.requests_for("CreateVisualValidateSession")) == 5
        clock.shift(timedelta(hours=1))
        assert phone.post(f"{link}start/").status_code == 302
    assert session.attempts.count() == 6


def test_a_finished_attempt_lets_the_person_try_again_at_once(start_by_email, phone, simulator):
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    failed = latest_attempt(session)
    phone.get(callback_path(simulator.complete(failed.byted_token, result_code=10001)))
    assert LivenessAttempt.objects.get(pk=failed.pk).status == LivenessAttempt.Status.FAILED
    assert phone.post(f"/verified/{failed.ref}/retry/").status_code == 302


def test_one_start_at_a_time_per_session(start_by_email, phone, simulator):
    session, link = start_by_email()
    phone.get(link)
    phone.post(f"{link}consent/", {"signature_name": "Jane Doe", "agree": "on"})
    session.attempts.all().delete()
    held = limits.liveness_start(session)
    held.__enter__()
    # Another press, served meanwhile by another thread or process, makes no call.
    with pytest.raises(limits.TooManyStarts, match="being opened"), limits.liveness_start(session):
        pass
    held.__exit__(None, None, None)
    session.refresh_from_db()
    assert session.start_claimed_until is None  # released


def test_the_refusal_is_in_the_persons_language(start_by_email, phone, simulator, person):
    person.language = "zh-hant"
    person.save(update_fields=["language"])
    _, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    page = phone.post(f"{link}start/").content.decode()
    assert "仍在進行中" in page


def test_reloading_the_result_page_asks_the_upstream_once_per_window(
    start_by_email, phone, simulator, settings
):
    from django.core.cache import cache

    settings.LIVENESS_RESULT_CHECK_SECONDS = 60  # longer than the reloads take on a busy machine
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    attempt = latest_attempt(session)
    path = f"/verified/{attempt.ref}/"
    for _ in range(30):
        assert phone.get(path).status_code == 200
    assert len(simulator.requests_for("GetVisualValidateResult")) == 1
    cache.delete(f"result-check:{attempt.pk}")  # the window ends (Redis keeps its own clock)
    phone.get(path)
    assert len(simulator.requests_for("GetVisualValidateResult")) == 2

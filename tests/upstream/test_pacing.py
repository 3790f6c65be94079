"""The account's published QPS limits, kept by a token bucket shared by every worker (issue 12)."""

from __future__ import annotations

import logging
import multiprocessing
import socket
import threading
import time
import uuid

import pytest
import redis

from upstream import errors
from upstream.factory import client_for
from upstream.pacing import Limits, LocalBuckets, Pacing, RedisBuckets, bucket_shape

# Redis database 5 is this suite's own (tests/README: one database per concurrent run).
REDIS_URL = "redis://127.0.0.1:6379/5"


def redis_or_fail() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.fail(f"these tests need Redis at {REDIS_URL}: {error}")


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


# --- The bucket ----------------------------------------------------------------------------------


def test_a_local_bucket_spaces_calls_at_the_rate_and_refills():
    now = [100.0]
    buckets = LocalBuckets(clock=lambda: now[0])

    def take(key: str = "a", longest: float = 1) -> float | None:
        return buckets.take(key, rate=10, capacity=2, longest=longest)

    assert [take() for _ in range(4)] == [0, 0, pytest.approx(0.1), pytest.approx(0.2)]
    assert take("b") == 0.0  # another account: its own bucket
    now[0] += 0.3
    assert take() == pytest.approx(0.0, abs=1e-9)
    assert take(longest=0.05) is None  # too far off: nothing taken
    assert take() == pytest.approx(0.1)


@pytest.mark.parametrize("limit", [2, 5, 8, 30, 100])
def test_no_second_sees_more_calls_than_the_limit(limit):
    capacity, rate = bucket_shape(limit)
    assert capacity >= 1 and capacity + rate <= limit and rate >= limit / 2
    now = [0.0]
    buckets = LocalBuckets(clock=lambda: now[0])
    sent = []
    for _ in range(5 * limit):  # callers queue for their reserved turns
        wait = buckets.take("k", rate=rate, capacity=capacity, longest=60)
        assert wait is not None
        sent.append(now[0] + wait)
        now[0] += 0.001
    assert most_in_one_second(sent) <= limit


def test_pacing_sleeps_its_turn_per_class_and_refuses_a_turn_too_far_off():
    now = [0.0]
    slept: list[float] = []
    pacing = Pacing(
        account_key="7",
        limits=Limits(per_second=2, get_per_second=0),
        buckets=LocalBuckets(clock=lambda: now[0]),
        longest_wait=0.6,
        sleep=slept.append,
    )
    pacing.wait_turn("CreateAsset")
    now[0] += 0.5
    pacing.wait_turn("ListAssets")
    for _ in range(5):
        pacing.wait_turn("GetAsset")  # unlimited
    assert slept == [pytest.approx(0.5)]  # a limit of 2: one token, refilled once a second
    with pytest.raises(errors.RateLimited) as caught:
        pacing.wait_turn("GetVisualValidateResult")  # same class as CreateAsset: 1.5 s off
    assert caught.value.code == "Local.QpsLimit"
    assert not caught.value.maybe_processed  # nothing was sent: a create may go again at once
    assert caught.value.retry_after == 0.6


def _send_paced(key: str, rate: float, count: int, sent) -> None:
    buckets = RedisBuckets(REDIS_URL)
    for _ in range(count):
        wait = buckets.take(key, rate=rate, capacity=1, longest=30)
        assert wait is not None
        # The turn Redis gave, not when this process woke up: on a busy machine a late wake-up
        # would bunch turns together in the record that the bucket kept apart.
        sent.append(time.time() + wait)
        time.sleep(wait)


def test_workers_in_separate_processes_share_one_redis_bucket():
    redis_or_fail()
    key = f"sitter:upstream-qps:test-{uuid.uuid4().hex}:other"
    rate, each = 20.0, 20
    with multiprocessing.Manager() as manager:
        sent = manager.list()
        workers = [
            multiprocessing.Process(target=_send_paced, args=(key, rate, each, sent))
            for _ in range(3)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
            assert worker.exitcode == 0
        times = list(sent)
    assert len(times) == 3 * each
    # 60 calls at 20 per second: about 3 s, and never more than the rate (plus the one token
    # the bucket holds, plus one for the round trip to Redis) in any second, whichever process
    # sent them. Three buckets of their own would have let all 60 through in one second.
    assert max(times) - min(times) >= (3 * each - 1) / rate - 0.05
    assert most_in_one_second(times) <= rate + 2


def test_an_unreachable_redis_lets_calls_through_and_says_so(caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    buckets = RedisBuckets(f"redis://127.0.0.1:{port}/5")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="upstream"):
        takes = [buckets.take("k", rate=1, capacity=1, longest=1) for _ in range(3)]
    assert takes == [0.0, 0.0, 0.0]
    assert time.monotonic() - started < 3
    warnings = [r for r in caplog.records if "not applied" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a call


# --- Against the simulator's own limit -----------------------------------------------------------


def _hammer(account, threads: int, calls: int) -> None:
    def run() -> None:
        client = client_for(account)
        for _ in range(calls):
            client.list_assets(page_size=1)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("store", ["process", "redis"])
def test_the_client_stays_under_the_accounts_limit(account, simulator, settings, store):
    """The simulator refuses more than 10 calls a second for the token; at a limit of 8 the
    portal's threads never meet a 429. Without the limit the same load does."""
    if store == "redis":
        redis_or_fail()
        settings.REDIS_URL = REDIS_URL
    else:
        settings.REDIS_URL = ""
    settings.UPSTREAM_RETRY_BASE_DELAY = 0.05
    settings.UPSTREAM_RETRY_BUDGET = 30.0
    settings.UPSTREAM_READ_ATTEMPTS = 10
    simulator.control("POST", "rate-limits", json={"credential": simulator.token, "per_second": 10})
    settings.UPSTREAM_QPS_LIMIT = 8
    time.sleep(1.1)  # the simulator's one-second window forgets calls made before this test
    _hammer(account, threads=3, calls=6)
    paced = [r["status"] for r in simulator.requests_for("ListAssets")]
    assert paced.count(200) == 18 and 429 not in paced
    settings.UPSTREAM_QPS_LIMIT = 0
    _hammer(account, threads=3, calls=6)
    unpaced = [r["status"] for r in simulator.requests_for("ListAssets")][len(paced) :]
    assert 429 in unpaced

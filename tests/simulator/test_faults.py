import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.simulator import samples
from tests.simulator.conftest import Simulator


def read_all(conn: socket.socket) -> bytes:
    """Everything the server sends before closing (it closes after refusing a body)."""
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def fault(sim: Simulator, **spec) -> None:
    sim.control("/_control/faults", spec)


def test_an_error_fault_answers_without_acting(sim: Simulator):
    token = sim.token()
    group_id = sim.aigc_group(token)
    fault(sim, action="CreateAsset", kind="error", count=2, status=503, retry_after=2)

    answers = [sim.upload(token, group_id, samples.image()) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "2"
    assert set(answers[0].json()["error"]) == {"type", "code", "message"}
    assert len(sim.owned(token)["assets"]) == 1
    logged = sim.logged(action="CreateAsset", credential=token)
    assert [e["fault"] for e in logged] == ["error", "error", ""]


def test_an_error_fault_uses_the_byteplus_shape_there(sim: Simulator):
    keys = sim.keypair()
    fault(sim, action="*", adapter="byteplus", kind="error", status=500)
    response = sim.byteplus(keys, "ListAssets", {})
    assert response.status_code == 500
    assert response.json()["ResponseMetadata"]["Error"]["Code"] == "InternalError"
    assert sim.anyfast(sim.token(), "ListAssets", {}).status_code == 200


def test_a_rate_limit_fault_answers_429_with_retry_after(sim: Simulator):
    fault(sim, action="ListAssets", kind="rate_limit", retry_after=3)
    response = sim.anyfast(sim.token(), "ListAssets", {})
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


def test_a_hang_never_answers(sim: Simulator):
    token = sim.token()
    fault(sim, action="CreateVisualValidateSession", kind="hang", seconds=1)
    with pytest.raises(requests.ReadTimeout):
        sim.anyfast(
            token, "CreateVisualValidateSession", {"CallbackURL": "http://a/b"}, timeout=0.3
        )
    assert sim.owned(token)["sessions"] == []


def test_a_slow_body_trickles_a_complete_answer(sim: Simulator):
    token = sim.token()
    fault(sim, action="CreateAssetGroup", kind="slow_body", seconds=0.6)
    started = time.monotonic()
    response = sim.anyfast(token, "CreateAssetGroup", {"Name": "slow"})
    assert time.monotonic() - started >= 0.5
    assert response.json()["Id"].startswith("group-")


def test_commit_then_drop_commits_but_never_answers(sim: Simulator):
    token = sim.token()
    group_id = sim.aigc_group(token)
    fault(sim, action="CreateAsset", kind="commit_then_drop")

    with pytest.raises(requests.ConnectionError):
        sim.upload(token, group_id, samples.image(), name="only-once")

    assets = sim.owned(token)["assets"]
    assert [a["name"] for a in assets] == ["only-once"]
    listed = sim.anyfast(token, "ListAssets", {"Filter": {"Name": "only-once"}}).json()
    assert listed["TotalCount"] == 1
    entry = sim.logged(action="CreateAsset")[0]
    assert entry["status"] == 0 and entry["fault"] == "commit_then_drop"


def test_a_credential_rate_limit_applies_to_that_credential_only(sim: Simulator):
    token, other = sim.token(), sim.token()
    sim.control("/_control/rate-limits", {"credential": token, "per_second": 2})
    statuses = [sim.anyfast(token, "ListAssets", {}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = sim.anyfast(token, "ListAssets", {})
    assert limited.headers["Retry-After"] and limited.json()["error"]["type"]
    assert sim.anyfast(other, "ListAssets", {}).status_code == 200


def test_a_keypair_rate_limit_uses_the_byteplus_shape(sim: Simulator):
    keys = sim.keypair()
    sim.control("/_control/rate-limits", {"credential": keys[0], "per_second": 1})
    sim.byteplus(keys, "ListAssets", {})
    response = sim.byteplus(keys, "ListAssets", {})
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert response.json()["ResponseMetadata"]["Error"]["Code"] == "FlowLimitExceeded"


def test_bodies_over_the_cap_are_refused(sim: Simulator):
    sim.switch(max_body_bytes=1000)
    token = sim.token()
    big = {"Name": "x" * 2000}
    plain = sim.anyfast(token, "CreateAssetGroup", big)
    chunked = sim.anyfast(token, "CreateAssetGroup", data=iter([b'{"Name": "', b"x" * 2000, b'"}']))
    signed = sim.byteplus(sim.keypair(), "CreateAssetGroup", big)
    assert plain.status_code == chunked.status_code == signed.status_code == 413
    assert plain.json()["error"]["code"] == "request_too_large"
    assert signed.json()["ResponseMetadata"]["Error"]["Code"] == "RequestEntityTooLarge"
    assert sim.anyfast(token, "CreateAssetGroup", {"Name": "fits"}).status_code == 200


def test_an_announced_64_mb_body_is_refused_before_it_is_sent(sim: Simulator):
    address = urlsplit(sim.url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as conn:
        conn.sendall(
            b"POST /volc/asset/CreateAsset HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            b"Content-Type: application/json\r\nContent-Length: 70000000\r\n\r\n"
        )
        reply = read_all(conn)
    assert reply.startswith(b"HTTP/1.1 413")


def test_an_expect_continue_for_an_oversized_body_gets_413_not_100(sim: Simulator):
    address = urlsplit(sim.url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as conn:
        conn.sendall(
            b"POST /?Action=CreateAsset&Version=2024-01-01 HTTP/1.1\r\nHost: x\r\n"
            b"Expect: 100-continue\r\nContent-Length: 70000000\r\n\r\n"
        )
        reply = read_all(conn)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"RequestEntityTooLarge" in reply


def test_the_request_log_counts_duplicates_per_raw_credential(sim: Simulator):
    token, other = sim.token(), sim.token()
    for _ in range(3):
        sim.anyfast(token, "ListAssets", {})
    sim.anyfast(other, "ListAssets", {})
    assert len(sim.logged(action="ListAssets", credential=token)) == 3
    sim.control("/_control/reset", {})
    assert sim.logged() == []
    assert sim.anyfast(token, "ListAssets", {}).status_code == 200  # credentials kept

"""The staff session page tells what happened in words: who opened the link, who verified."""

import re

import pytest

from tests.journey import callback_path, consent_and_start, latest_attempt

pytestmark = pytest.mark.django_db


def _timeline(staff_client, session) -> list[str]:
    page = staff_client.get(f"/sessions/{session.pk}/").content.decode()
    block = page[page.index('<h2 class="flush">Timeline</h2>') :]
    block = block[: block.index("</ul>")]
    return [
        re.sub(r"<[^>]+>", "", item).split("·", 1)[-1].strip()
        for item in re.findall(r"<li[^>]*>(.*?)</li>", block, re.S)
    ]


def test_the_timeline_is_in_words(start_by_email, staff_client, phone, simulator):
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    phone.get(callback_path(simulator.complete(latest_attempt(session).byted_token)))
    lines = _timeline(staff_client, session)
    assert lines[:3] == [
        "Verification started by staffer, to reach them by email",
        "New link queued for sending by email by staffer",
        "Invitation sent by email",
    ]
    assert "Invitation opened by Jane Doe" in lines
    assert "Consent given by Jane Doe, signed “Jane Doe”" in lines
    assert "Liveness check started by Jane Doe" in lines
    assert lines[-1] == "Verified by the upstream"
    text = " ".join(lines)
    assert "system" not in text and "invitation.sent" not in text


def test_a_cancelled_session_says_who_cancelled(start_by_email, staff_client):
    session, _ = start_by_email()
    staff_client.post(
        f"/sessions/{session.pk}/cancel/", {"confirmed": "yes", "reason": "Wrong person"}
    )
    assert _timeline(staff_client, session)[-1] == (
        "Cancelled by staffer; 1 earlier link stopped working"
    )


def test_the_status_poll_is_a_cheap_conditional_request(
    start_by_email, staff_client, phone, django_assert_max_num_queries
):
    session, link = start_by_email()
    url = f"/sessions/{session.pk}/status/"
    first = staff_client.get(url, headers={"HX-Request": "true"})
    assert first.status_code == 200 and first["ETag"]
    # Sign-in (session, user, second factor), the role's permissions (2), then the session, its
    # consents and the last event: no render.
    with django_assert_max_num_queries(8):
        unchanged = staff_client.get(
            url, headers={"HX-Request": "true", "If-None-Match": first["ETag"]}
        )
    assert unchanged.status_code == 304 and unchanged.content == b""
    phone.get(link)  # the person opens it: a new ledger event, so a new fragment
    changed = staff_client.get(url, headers={"HX-Request": "true", "If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert b"Invitation opened by Jane Doe" in changed.content


def test_a_finished_session_stops_the_poll_even_when_unchanged(start_by_email, staff_client):
    session, _ = start_by_email()
    staff_client.post(
        f"/sessions/{session.pk}/cancel/", {"confirmed": "yes", "reason": "Wrong person"}
    )
    url = f"/sessions/{session.pk}/status/"
    tag = staff_client.get(url, headers={"HX-Request": "true"})["ETag"]
    again = staff_client.get(url, headers={"HX-Request": "true", "If-None-Match": tag})
    assert again.status_code == 286

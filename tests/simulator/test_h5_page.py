from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.simulator.conftest import Simulator


@pytest.mark.parametrize(
    ("lng", "expected"),
    [
        ("", "真人认证"),
        ("en", "Identity verification"),
        ("zh-Hant", "真人認證"),
        ("xx", "真人认证"),
    ],
)
def test_the_page_speaks_the_requested_language(sim: Simulator, lng: str, expected: str):
    link = sim.session(sim.token())["H5Link"]
    page = requests.get(link, params={"lng": lng} if lng else None, timeout=5)
    assert page.status_code == 200
    assert expected in page.text
    assert 'name="viewport"' in page.text and 'method="post"' in page.text


def test_complete_redirects_through_the_return_hop_to_the_callback(sim: Simulator):
    token = sim.token()
    session = sim.session(token, "http://127.0.0.1:9/done")
    link = session["H5Link"]
    requests.get(link, timeout=5)

    pressed = requests.post(
        link, data={"person": "Ann", "outcome": "complete"}, allow_redirects=False, timeout=5
    )
    assert pressed.status_code == 303
    assert sim.anyfast(token, "GetVisualValidateResult", session).json() == {"GroupId": ""}

    hop = requests.get(sim.url + pressed.headers["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(hop.headers["Location"])
    assert hop.status_code == 302 and callback.path == "/done"
    assert parse_qs(callback.query)["resultCode"] == ["10000"]
    group_id = sim.anyfast(token, "GetVisualValidateResult", session).json()["GroupId"]
    state = sim.control("/_control/state")
    groups = [g for owner in state["credentials"].values() for g in owner["groups"]]
    assert groups == [
        {
            "id": group_id,
            "name": groups[0]["name"],
            "group_type": "LivenessFace",
            "person": "Ann",
            "deleted": False,
        }
    ]


def test_fail_redirects_with_a_failure_code_and_no_group(sim: Simulator):
    token = sim.token()
    session = sim.session(token)
    pressed = requests.post(
        session["H5Link"], data={"outcome": "fail"}, allow_redirects=False, timeout=5
    )
    assert pressed.status_code == 303
    assert parse_qs(urlsplit(pressed.headers["Location"]).query)["resultCode"] == ["10001"]
    assert sim.anyfast(token, "GetVisualValidateResult", session).json() == {"GroupId": ""}


def test_complete_needs_a_person(sim: Simulator):
    link = sim.session(sim.token())["H5Link"]
    response = requests.post(link, data={"outcome": "complete", "lng": "en"}, timeout=5)
    assert response.status_code == 400 and "Enter the person" in response.text


def test_an_unopened_link_expires_after_its_ttl(sim: Simulator):
    sim.switch(link_ttl_seconds=30)
    link = sim.session(sim.token())["H5Link"]
    sim.advance(31)
    page = requests.get(link, params={"lng": "en"}, timeout=5)
    assert page.status_code == 410 and "expired" in page.text
    pressed = requests.post(link, data={"person": "A", "outcome": "complete"}, timeout=5)
    assert pressed.status_code == 410


def test_a_page_opened_in_time_can_still_be_finished(sim: Simulator):
    link = sim.session(sim.token())["H5Link"]
    requests.get(link, timeout=5)
    sim.advance(200)
    pressed = requests.post(
        link, data={"person": "A", "outcome": "complete"}, allow_redirects=False, timeout=5
    )
    assert pressed.status_code == 303


def test_a_finished_page_cannot_be_pressed_twice(sim: Simulator):
    link = sim.session(sim.token())["H5Link"]
    requests.post(link, data={"outcome": "fail"}, allow_redirects=False, timeout=5)
    again = requests.post(link, data={"person": "A", "outcome": "complete"}, timeout=5)
    assert "already finished" in requests.get(link, params={"lng": "en"}, timeout=5).text
    assert again.status_code == 200  # the "finished" page


def test_an_unknown_link_is_not_found(sim: Simulator):
    assert requests.get(f"{sim.url}/h5/nope", timeout=5).status_code == 404

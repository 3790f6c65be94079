import json

import requests

from tests.simulator import samples
from tests.simulator.conftest import Simulator


def test_a_missing_token_gets_the_gateway_error_shape(sim: Simulator):
    response = sim.anyfast(None, "ListAssets", {})
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"type", "code", "message"}


def test_an_unknown_token_is_unauthorized(sim: Simulator):
    assert sim.anyfast("sk-unknown", "ListAssets", {}).status_code == 401


def test_an_unreadable_body_gets_the_plain_shape(sim: Simulator):
    response = sim.http.post(
        f"{sim.url}/volc/asset/ListAssets",
        headers={"Authorization": f"Bearer {sim.token()}", "Content-Type": "application/json"},
        data=b"{not json",
        timeout=5,
    )
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}


def test_an_unknown_action_is_not_found(sim: Simulator):
    response = sim.anyfast(sim.token(), "CreateEverything", {})
    assert response.status_code == 404 and "CreateEverything" in response.json()["message"]


def test_an_aigc_token_works_with_aigc_groups(sim: Simulator):
    token = sim.token(group="AIGC")
    group_id = sim.aigc_group(token)
    created = sim.upload(token, group_id, samples.image())
    assert sim.asset(token, created.json()["Id"])["Status"] == "Active"


def test_the_model_field_is_accepted_and_logged_per_call(sim: Simulator):
    token = sim.token()
    sim.anyfast(token, "ListAssets", {"model": "volc-asset-audio"})
    entries = sim.logged(action="ListAssets")
    assert [(e["adapter"], e["model"], e["status"]) for e in entries] == [
        ("anyfast", "volc-asset-audio", 200)
    ]
    assert entries[0]["credential"].startswith("tok_")
    assert token not in json.dumps(entries)


def test_the_stderr_log_never_contains_the_token(sim: Simulator):
    token = sim.token()
    sim.anyfast(token, "ListAssets", {})
    session = sim.session(token)
    requests.get(session["H5Link"], timeout=5)
    sim.control(f"/_control/sessions/{session['BytedToken']}/complete", {"person": "A"})
    log = sim.log_path.read_text()
    assert "ListAssets" in log
    assert token not in log
    assert session["H5Link"].rsplit("/", 1)[1] not in log
    assert session["BytedToken"] not in log


def test_control_overview_page_lists_what_exists(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    page = requests.get(sim.url + "/", timeout=5)
    assert page.status_code == 200 and group_id in page.text

import json
import re
from urllib.parse import parse_qs, urlsplit

import requests

from tests.simulator.conftest import Simulator


def relayed(response: requests.Response) -> dict:
    """The upstream error inside an Anyfast relayed error body."""
    body = response.json()
    assert set(body) == {"code", "message", "data"} and body["data"] is None
    return json.loads(body["message"])["ResponseMetadata"]["Error"]


def test_it_issues_a_token_an_opaque_link_and_echoes_the_callback(sim: Simulator):
    token = sim.token()
    session = sim.session(token, "https://portal.example/cb?v=1")
    assert re.fullmatch(r"\d{14}[0-9A-F]{20}", session["BytedToken"])
    assert session["H5Link"].startswith(f"{sim.url}/h5/")
    assert session["BytedToken"] not in session["H5Link"]
    assert session["CallbackURL"] == "https://portal.example/cb?v=1"


def test_it_requires_a_callback_url_with_the_seen_message(sim: Simulator):
    response = sim.anyfast(sim.token(), "CreateVisualValidateSession", {})
    assert response.status_code == 400
    assert relayed(response) == {
        "Code": "MissingParameter",
        "Message": "[***.CallbackURL] The required parameter CallbackURL is missing.",
    }


def test_the_group_id_stays_empty_until_the_person_finishes(sim: Simulator):
    token = sim.token()
    byted = sim.session(token, "http://127.0.0.1:9/cb?x=1")["BytedToken"]
    first = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted})
    assert first.json() == {"GroupId": ""}

    done = sim.control(f"/_control/sessions/{byted}/complete", {"person": "Ann"})

    assert re.fullmatch(r"group-\d{14}-[a-z]{5}", done["group_id"])
    query = parse_qs(urlsplit(done["callback_url"]).query)
    assert query["x"] == ["1"] and query["bytedToken"] == [byted]
    assert query["resultCode"] == ["10000"]
    second = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted})
    assert second.json() == {"GroupId": done["group_id"]}


def test_a_failed_liveness_creates_no_group(sim: Simulator):
    token = sim.token()
    byted = sim.session(token)["BytedToken"]
    done = sim.control(f"/_control/sessions/{byted}/complete", {"result_code": 10001})
    assert "resultCode=10001" in done["callback_url"] and done["group_id"] == ""
    result = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted})
    assert result.json() == {"GroupId": ""}


def test_an_abandoned_redirect_leaves_the_group_empty_until_the_browser_arrives(sim: Simulator):
    token = sim.token()
    session = sim.session(token)
    byted = session["BytedToken"]
    sim.control(f"/_control/sessions/{byted}/complete", {"person": "Ann", "abandon": True})
    assert sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted}).json() == {
        "GroupId": ""
    }

    late = requests.get(session["H5Link"] + "/return", allow_redirects=False, timeout=5)

    assert late.status_code == 302 and "resultCode=10000" in late.headers["Location"]
    group_id = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted}).json()
    assert group_id["GroupId"].startswith("group-")


def test_another_token_cannot_read_the_result(sim: Simulator):
    byted = sim.session(sim.token())["BytedToken"]
    response = sim.anyfast(sim.token(), "GetVisualValidateResult", {"BytedToken": byted})
    assert response.status_code == 404
    assert relayed(response)["Code"] == "NotFound.byted_token"


def test_an_aigc_token_is_refused_real_human_work(sim: Simulator):
    token = sim.token(group="AIGC")
    response = sim.anyfast(token, "CreateVisualValidateSession", {"CallbackURL": "http://a/b"})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "GroupType must be one of [AIGC]"}
    listing = sim.anyfast(token, "ListAssetGroups", {"Filter": {"GroupType": "LivenessFace"}})
    assert listing.json()["message"] == "GroupType must be one of [AIGC]"


def test_an_aigc_token_may_be_answered_lists_but_never_sessions(sim: Simulator):
    sim.switch(wrong_group_liveness_lists="answered")
    token = sim.token(group="AIGC")
    for action in ("ListAssets", "ListAssetGroups"):
        listing = sim.anyfast(token, action, {"Filter": {"GroupType": "LivenessFace"}})
        assert listing.status_code == 200 and listing.json()["Items"] == []
    probe = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": "2" * 34})
    assert probe.json() == {"code": 400, "message": "GroupType must be one of [AIGC]"}


def test_the_gateways_own_refusals_can_come_in_its_error_shape(sim: Simulator):
    sim.switch(gateway_check_error_shape="gateway")
    token = sim.token(group="AIGC")
    response = sim.anyfast(token, "CreateVisualValidateSession", {"CallbackURL": "http://a/b"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "GroupType must be one of [AIGC]"
    unknown = sim.anyfast(sim.token(), "NoSuchAction", {})
    assert unknown.status_code == 404 and "Unknown action" in unknown.json()["error"]["message"]


def test_the_result_token_expires(sim: Simulator):
    sim.switch(result_token_ttl_seconds=60)
    token = sim.token()
    byted = sim.session(token)["BytedToken"]
    sim.advance(61)
    response = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted})
    assert response.status_code == 400
    assert relayed(response)["Code"] == "InvalidParameter.BytedTokenExpired"


def test_a_single_use_token_answers_the_group_once(sim: Simulator):
    sim.switch(result_token_single_use=True)
    token = sim.token()
    byted = sim.session(token)["BytedToken"]
    assert sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted}).status_code == 200
    sim.control(f"/_control/sessions/{byted}/complete", {"person": "Ann"})
    first = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted})
    again = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": byted})
    assert first.json()["GroupId"].startswith("group-")
    assert again.status_code == 400
    assert relayed(again)["Code"] == "InvalidParameter.BytedTokenExpired"


def test_a_session_cannot_be_completed_after_its_link_expired_unopened(sim: Simulator):
    token = sim.token()
    byted = sim.session(token)["BytedToken"]
    sim.advance(121)
    response = sim.http.post(
        f"{sim.url}/_control/sessions/{byted}/complete", json={"person": "Ann"}, timeout=5
    )
    assert response.status_code == 409 and "expired" in response.json()["error"]

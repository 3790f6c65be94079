import base64
import datetime as dt
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests.simulator import samples, signer
from tests.simulator.conftest import Simulator


def error_of(response: requests.Response) -> dict:
    metadata = response.json()["ResponseMetadata"]
    assert "Result" not in response.json()
    return metadata["Error"]


def test_a_signed_request_gets_the_result_envelope(sim: Simulator):
    keys = sim.keypair()
    response = sim.byteplus(keys, "CreateVisualValidateSession", {"CallbackURL": "http://a/cb"})
    assert response.status_code == 200, response.text
    body = response.json()
    metadata = body["ResponseMetadata"]
    assert metadata["Action"] == "CreateVisualValidateSession"
    assert metadata["Version"] == "2024-01-01"
    assert metadata["Service"] == "ark" and metadata["Region"] == "ap-southeast-1"
    assert len(metadata["RequestId"]) == 32 and "Error" not in metadata
    assert body["Result"]["BytedToken"] and body["Result"]["H5Link"].startswith(sim.url)


def test_the_whole_flow_works_over_byteplus(sim: Simulator):
    keys = sim.keypair()
    byted = sim.byteplus(keys, "CreateVisualValidateSession", {"CallbackURL": "http://a/cb"})
    token = byted.json()["Result"]["BytedToken"]
    group_id = sim.control(f"/_control/sessions/{token}/complete", {"person": "Bo"})["group_id"]
    result = sim.byteplus(keys, "GetVisualValidateResult", {"BytedToken": token})
    assert result.json()["Result"] == {"GroupId": group_id}
    created = sim.byteplus(
        keys,
        "CreateAsset",
        {
            "GroupId": group_id,
            "Name": "portrait",
            "AssetType": "Image",
            "URL": base64.b64encode(samples.image()).decode(),
            "ProjectName": "default",
            "Moderation": {"Strategy": "Default"},
        },
    )
    asset_id = created.json()["Result"]["Id"]
    asset = sim.byteplus(keys, "GetAsset", {"Id": asset_id}).json()["Result"]
    assert asset["Status"] == "Active"
    listed = sim.byteplus(keys, "ListAssets", {"Filter": {"GroupIds": [group_id]}})
    assert listed.json()["Result"]["TotalCount"] == 1
    deleted = sim.byteplus(keys, "DeleteAsset", {"Id": asset_id})
    assert deleted.json()["Result"] == {"Id": asset_id, "Deleted": True}


def test_upstream_errors_use_the_metadata_error(sim: Simulator):
    response = sim.byteplus(sim.keypair(), "GetAsset", {"Id": "asset-20260101000000-abcde"})
    assert response.status_code == 404
    assert error_of(response)["Code"] == "NotFound.asset_id"


def test_another_key_cannot_see_the_anyfast_tokens_things(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    body = {"GroupId": group_id, "Name": "x", "AssetType": "Image", "URL": "aGVsbG8="}
    response = sim.byteplus(sim.keypair(), "CreateAsset", body)
    assert response.status_code == 404 and error_of(response)["Code"] == "NotFound.group_id"


def test_a_wrong_secret_is_refused(sim: Simulator):
    ak, _ = sim.keypair()
    response = sim.byteplus((ak, "not-the-secret"), "ListAssets", {})
    assert response.status_code == 401
    assert error_of(response)["Code"] == "SignatureDoesNotMatch"


def test_an_unknown_access_key_is_refused(sim: Simulator):
    response = sim.byteplus(("AKLTUNKNOWN", "secret"), "ListAssets", {})
    assert response.status_code == 401 and error_of(response)["Code"] == "InvalidAccessKey"


def test_a_stale_x_date_is_refused(sim: Simulator):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    response = sim.byteplus(sim.keypair(), "ListAssets", {}, when=old)
    assert response.status_code == 401 and error_of(response)["Code"] == "InvalidTimestamp"


def test_a_wrong_region_is_refused(sim: Simulator):
    response = sim.byteplus(sim.keypair(), "ListAssets", {}, region="cn-beijing")
    assert response.status_code == 401
    assert error_of(response)["Code"] == "SignatureDoesNotMatch"


def test_a_body_changed_after_signing_is_refused(sim: Simulator):
    ak, sk = sim.keypair()
    path, headers, payload = signer.signed_request(
        host=urlsplit(sim.url).netloc,
        action="ListAssets",
        body={"PageSize": 10},
        access_key_id=ak,
        secret_access_key=sk,
    )
    tampered = payload.replace(b"10", b"99")
    response = requests.post(sim.url + path, headers=headers, data=tampered, timeout=5)
    assert response.status_code == 401
    assert error_of(response)["Code"] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("authorization", [None, "Bearer abc", "HMAC-SHA256 Credential=x"])
def test_a_missing_or_malformed_authorization_is_refused(sim: Simulator, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    response = requests.post(
        f"{sim.url}/?Action=ListAssets&Version=2024-01-01", headers=headers, data=b"{}", timeout=5
    )
    assert response.status_code == 401
    assert error_of(response)["Code"] == "InvalidAuthorization"


def test_a_key_without_the_policy_is_denied(sim: Simulator):
    response = sim.byteplus(sim.keypair(denied=True), "ListAssets", {})
    assert response.status_code == 403 and error_of(response)["Code"] == "AccessDenied"


def test_another_version_is_refused(sim: Simulator):
    response = sim.byteplus(sim.keypair(), "ListAssets", {}, version="2023-01-01")
    assert response.status_code == 400
    assert error_of(response)["Code"] == "InvalidActionOrVersion"


def test_the_callback_url_is_required_with_the_seen_message(sim: Simulator):
    response = sim.byteplus(sim.keypair(), "CreateVisualValidateSession", {})
    assert error_of(response) == {
        "Code": "MissingParameter",
        "Message": "[***.CallbackURL] The required parameter CallbackURL is missing.",
    }


def test_the_anyfast_relayed_error_can_be_bare(sim: Simulator):
    sim.switch(relayed_error_format="bare")
    response = sim.anyfast(sim.token(), "GetAsset", {"Id": "asset-x"})
    assert json.loads(response.json()["message"]) == {
        "Code": "NotFound.asset_id",
        "Message": "asset asset-x not found",
    }

import json

from tests.simulator import samples
from tests.simulator.conftest import Simulator


def test_it_creates_and_lists_aigc_groups(sim: Simulator):
    token = sim.token()
    group_id = sim.aigc_group(token, "Cast A")
    sim.aigc_group(token, "Cast B")
    listing = sim.anyfast(token, "ListAssetGroups", {"model": "volc-asset", "PageSize": 1})
    body = listing.json()
    assert body["TotalCount"] == 2 and body["PageSize"] == 1 and len(body["Items"]) == 1
    named = sim.anyfast(token, "ListAssetGroups", {"Filter": {"Name": "Cast A"}}).json()
    assert [item["Id"] for item in named["Items"]] == [group_id]
    assert named["Items"][0]["GroupType"] == "AIGC"


def test_liveness_groups_cannot_be_created_directly(sim: Simulator):
    response = sim.anyfast(
        sim.token(), "CreateAssetGroup", {"Name": "me", "GroupType": "LivenessFace"}
    )
    assert response.status_code == 400
    inner = json.loads(response.json()["message"])["ResponseMetadata"]["Error"]
    assert inner["Message"] == "GroupType must be one of [AIGC]"


def test_liveness_groups_are_hidden_from_the_list_unless_switched_on(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    assert sim.anyfast(token, "ListAssetGroups", {}).json()["TotalCount"] == 0
    sim.switch(liveness_groups_in_list=True)
    items = sim.anyfast(token, "ListAssetGroups", {}).json()["Items"]
    assert [(item["Id"], item["GroupType"]) for item in items] == [(group_id, "LivenessFace")]


def test_deleting_a_group_deletes_its_assets(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    asset_id = sim.upload(token, group_id, samples.image()).json()["Id"]

    deleted = sim.anyfast(token, "DeleteAssetGroup", {"Id": group_id})

    assert deleted.json() == {"Id": group_id, "Deleted": True}
    assert sim.anyfast(token, "GetAsset", {"Id": asset_id}).status_code == 404
    again = sim.upload(token, group_id, samples.image())
    assert again.status_code == 404
    owner = sim.owned(token)
    assert owner["groups"][0]["deleted"] and owner["assets"][0]["deleted"]


def test_groups_are_invisible_to_other_tokens(sim: Simulator):
    owner, other = sim.token(), sim.token()
    group_id = sim.verified_group(owner)
    upload = sim.upload(other, group_id, samples.image())
    assert upload.status_code == 404
    inner = json.loads(upload.json()["message"])["ResponseMetadata"]["Error"]
    assert inner == {"Code": "NotFound.group_id", "Message": f"asset group {group_id} not found"}
    assert sim.anyfast(other, "DeleteAssetGroup", {"Id": group_id}).status_code == 404
    sim.switch(liveness_groups_in_list=True)
    assert sim.anyfast(other, "ListAssetGroups", {}).json()["TotalCount"] == 0

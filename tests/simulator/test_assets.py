import base64
import json
import re

import pytest
import requests

from tests.simulator import samples
from tests.simulator.conftest import FileServer, Simulator


def upstream_code(response: requests.Response) -> str:
    return json.loads(response.json()["message"])["ResponseMetadata"]["Error"]["Code"]


def test_an_upload_is_processing_then_active(sim: Simulator):
    sim.switch(processing_seconds=3)
    token = sim.token()
    group_id = sim.verified_group(token)
    created = sim.upload(token, group_id, samples.image(), name="portrait-1")
    asset_id = created.json()["Id"]
    assert re.fullmatch(r"asset-\d{14}-[a-z]{5}", asset_id)

    assert sim.asset(token, asset_id)["Status"] == "Processing"
    sim.advance(3)
    asset = sim.asset(token, asset_id)

    assert asset["Status"] == "Active" and "Error" not in asset
    assert {key: asset[key] for key in ("Id", "Name", "AssetType", "GroupId", "ProjectName")} == {
        "Id": asset_id,
        "Name": "portrait-1",
        "AssetType": "Image",
        "GroupId": group_id,
        "ProjectName": "default",
    }
    assert asset["CreateTime"] <= asset["UpdateTime"]


def test_the_download_url_changes_on_every_read_and_serves_the_file(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    data = samples.image()
    asset_id = sim.upload(token, group_id, data).json()["Id"]
    first, second = sim.asset(token, asset_id)["URL"], sim.asset(token, asset_id)["URL"]
    assert first != second
    assert requests.get(second, timeout=5).content == data
    assert requests.get(second.replace("signature=", "signature=0"), timeout=5).status_code == 403


def test_raw_base64_and_multipart_are_accepted(sim: Simulator):
    token = sim.token()
    group_id = sim.aigc_group(token)
    raw = sim.anyfast(
        token,
        "CreateAsset",
        {
            "GroupId": group_id,
            "Name": "raw",
            "AssetType": "Image",
            "URL": base64.b64encode(samples.image()).decode(),
        },
    )
    form = {"model": "volc-asset", "GroupId": group_id, "Name": "form", "AssetType": "Image"}
    multipart = sim.anyfast(
        token, "CreateAsset", data=form, files={"file": ("a.png", samples.image(fmt="PNG"))}
    )
    for response in (raw, multipart):
        assert response.status_code == 200, response.text
        assert sim.asset(token, response.json()["Id"])["Status"] == "Active"
    vias = {asset["name"]: asset["via"] for asset in sim.owned(token)["assets"]}
    assert vias == {"raw": "base64", "form": "multipart"}


def test_multipart_assets_can_be_made_to_stay_processing(sim: Simulator):
    sim.switch(multipart_assets_stay_processing=True)
    token = sim.token()
    group_id = sim.aigc_group(token)
    form = {"GroupId": group_id, "Name": "form", "AssetType": "Image"}
    created = sim.anyfast(
        token, "CreateAsset", data=form, files={"file": ("a.jpg", samples.image())}
    )
    sim.advance(3600)
    assert sim.asset(token, created.json()["Id"])["Status"] == "Processing"


def test_it_downloads_a_url(sim: Simulator, file_server: FileServer):
    token = sim.token()
    group_id = sim.verified_group(token)
    file_server.files["/clip.mp4"] = samples.video()
    created = sim.anyfast(
        token,
        "CreateAsset",
        {
            "GroupId": group_id,
            "Name": "clip",
            "AssetType": "Video",
            "URL": file_server.url + "/clip.mp4",
            "model": "volc-asset-video",
        },
    )
    assert sim.asset(token, created.json()["Id"])["Status"] == "Active"
    assert sim.logged(action="CreateAsset")[-1]["model"] == "volc-asset-video"


@pytest.mark.parametrize("path", ["/missing.jpg", "/slow/photo.jpg"])
def test_a_url_it_cannot_fetch_fails_the_call(sim: Simulator, file_server: FileServer, path: str):
    sim.switch(download_timeout_seconds=0.5)
    file_server.files["/photo.jpg"] = samples.image()
    file_server.delay = 1.5
    token = sim.token()
    body = {"GroupId": sim.aigc_group(token), "Name": "x", "AssetType": "Image"}
    response = sim.anyfast(token, "CreateAsset", body | {"URL": file_server.url + path})
    assert response.status_code == 400
    assert upstream_code(response) == "InvalidParameter.DownloadFailed"


def test_a_failed_download_can_be_an_asset_that_fails(sim: Simulator, file_server: FileServer):
    sim.switch(download_failure="asset_failed")
    token = sim.token()
    body = {"GroupId": sim.aigc_group(token), "Name": "x", "AssetType": "Image"}
    response = sim.anyfast(token, "CreateAsset", body | {"URL": file_server.url + "/gone"})
    asset = sim.asset(token, response.json()["Id"])
    assert asset["Status"] == "Failed"
    assert asset["Error"]["Code"] == "InvalidParameter.DownloadFailed"


@pytest.mark.parametrize(
    ("data", "asset_type", "code"),
    [
        (samples.image(200, 800), "Image", "ResolutionTooSmall"),
        (samples.image(1200, 400), "Image", "AspectRatioOutOfRange"),
        (b"not an image at all", "Image", "UnsupportedFormat"),
        (samples.video(406, 720), "Video", "PixelCountTooSmall"),
        (samples.video(640, 640, seconds=1), "Video", "DurationTooShort"),
        (samples.video(640, 640, fps=20, seconds=2), "Video", "FrameRateOutOfRange"),
        (samples.wav(seconds=1), "Audio", "DurationTooShort"),
        (samples.image(), "Audio", "UnsupportedFormat"),
    ],
)
def test_out_of_limit_files_are_accepted_then_fail(
    sim: Simulator, data: bytes, asset_type: str, code: str
):
    token = sim.token()
    created = sim.upload(token, sim.aigc_group(token), data, asset_type)
    assert created.status_code == 200
    asset = sim.asset(token, created.json()["Id"])
    assert asset["Status"] == "Failed" and asset["Error"]["Code"] == code


def test_the_pixel_range_is_a_switch(sim: Simulator):
    token = sim.token()
    group_id = sim.aigc_group(token)
    hd = samples.video(1280, 720)  # 921,600 px: inside both ranges
    full_hd = samples.video(1080, 1080)  # 1,166,400 px: only inside the wide one
    assert (
        sim.asset(token, sim.upload(token, group_id, full_hd, "Video").json()["Id"])["Status"]
        == "Active"
    )
    sim.switch(video_pixel_range="narrow")
    narrow = sim.asset(token, sim.upload(token, group_id, full_hd, "Video").json()["Id"])
    assert narrow["Error"]["Code"] == "PixelCountTooLarge"
    assert (
        sim.asset(token, sim.upload(token, group_id, hd, "Video").json()["Id"])["Status"]
        == "Active"
    )


def test_failures_can_vanish_instead(sim: Simulator):
    sim.switch(preprocessing_failures_vanish=True)
    token = sim.token()
    created = sim.upload(token, sim.aigc_group(token), samples.image(100, 100))
    response = sim.anyfast(token, "GetAsset", {"Id": created.json()["Id"]})
    assert response.status_code == 404 and upstream_code(response) == "NotFound.asset_id"


def test_a_duplicate_name_gets_a_phantom_id_by_default(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    first = sim.upload(token, group_id, samples.image(), name="same").json()["Id"]
    second = sim.upload(token, group_id, samples.image(), name="same")
    assert second.status_code == 200 and second.json()["Id"] != first
    lookup = sim.anyfast(token, "GetAsset", {"Id": second.json()["Id"]})
    assert lookup.status_code == 404 and upstream_code(lookup) == "NotFound.asset_id"
    listing = sim.anyfast(token, "ListAssets", {"Filter": {"Name": "same"}}).json()
    assert [item["Id"] for item in listing["Items"]] == [first]


def test_a_duplicate_name_can_be_rejected_instead(sim: Simulator):
    sim.switch(duplicate_name_behaviour="reject")
    token = sim.token()
    group_id = sim.aigc_group(token)
    sim.upload(token, group_id, samples.image(), name="same")
    second = sim.upload(token, group_id, samples.image(), name="same")
    assert second.status_code == 400
    assert upstream_code(second) == "InvalidParameter.DuplicateName"


def test_a_duplicate_name_can_be_answered_not_found_instead(sim: Simulator):
    sim.switch(duplicate_name_behaviour="not_found")
    token = sim.token()
    group_id = sim.verified_group(token)
    first = sim.upload(token, group_id, samples.image(), name="same").json()["Id"]
    second = sim.upload(token, group_id, samples.image(), name="same")
    assert second.status_code == 404 and upstream_code(second) == "NotFound.asset_id"
    listing = sim.anyfast(token, "ListAssets", {"Filter": {"Name": "same"}}).json()
    assert [item["Id"] for item in listing["Items"]] == [first]


def test_list_assets_filters_pages_and_ignores_unknown_keys(sim: Simulator):
    token = sim.token()
    group_a, group_b = sim.verified_group(token), sim.aigc_group(token)
    for index in range(3):
        sim.upload(token, group_a, samples.image(), name=f"a-{index}")
    sim.upload(token, group_b, samples.image(100, 100), name="b-bad")

    by_group = sim.anyfast(token, "ListAssets", {"Filter": {"GroupIds": [group_a]}}).json()
    singular = sim.anyfast(token, "ListAssets", {"Filter": {"GroupId": group_a}}).json()
    failed = sim.anyfast(token, "ListAssets", {"Filter": {"Statuses": ["Failed"]}}).json()
    aigc = sim.anyfast(token, "ListAssets", {"Filter": {"GroupType": "AIGC"}}).json()
    page2 = sim.anyfast(token, "ListAssets", {"PageNumber": 2, "PageSize": 3}).json()

    assert by_group["TotalCount"] == 3 and by_group["PageNumber"] == 1
    assert by_group["PageSize"] == 10
    assert singular["TotalCount"] == 4  # the singular key is silently ignored
    assert [item["Name"] for item in failed["Items"]] == ["b-bad"]
    assert [item["Name"] for item in aigc["Items"]] == ["b-bad"]
    assert page2["TotalCount"] == 4 and len(page2["Items"]) == 1
    too_big = sim.anyfast(token, "ListAssets", {"PageSize": 101})
    assert too_big.status_code == 400 and upstream_code(too_big) == "InvalidParameter"


def test_delete_asset(sim: Simulator):
    token = sim.token()
    asset_id = sim.upload(token, sim.aigc_group(token), samples.image()).json()["Id"]
    deleted = sim.anyfast(token, "DeleteAsset", {"Id": asset_id, "model": "volc-asset"})
    assert deleted.json() == {"Id": asset_id, "Deleted": True}
    assert sim.anyfast(token, "GetAsset", {"Id": asset_id}).status_code == 404
    assert sim.anyfast(token, "DeleteAsset", {"Id": asset_id}).status_code == 404


def test_assets_are_invisible_to_other_tokens(sim: Simulator):
    owner, other = sim.token(), sim.token()
    asset_id = sim.upload(owner, sim.verified_group(owner), samples.image()).json()["Id"]
    response = sim.anyfast(other, "GetAsset", {"Id": asset_id})
    assert response.status_code == 404 and upstream_code(response) == "NotFound.asset_id"
    assert sim.anyfast(other, "ListAssets", {}).json()["TotalCount"] == 0
    assert sim.anyfast(other, "DeleteAsset", {"Id": asset_id}).status_code == 404


def test_liveness_assets_can_be_hidden_from_get_asset(sim: Simulator):
    sim.switch(liveness_assets_visible_to_get_asset=False)
    token = sim.token()
    asset_id = sim.upload(token, sim.verified_group(token), samples.image()).json()["Id"]
    assert sim.anyfast(token, "GetAsset", {"Id": asset_id}).status_code == 404
    items = sim.anyfast(token, "ListAssets", {}).json()["Items"]
    assert [(item["Id"], item["Status"]) for item in items] == [(asset_id, "Active")]


def test_ready_assets_can_report_inactive(sim: Simulator):
    sim.switch(report_inactive_instead_of_active=True)
    token = sim.token()
    asset_id = sim.upload(token, sim.aigc_group(token), samples.image()).json()["Id"]
    assert sim.asset(token, asset_id)["Status"] == "Inactive"

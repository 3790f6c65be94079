import base64

from tests.simulator import samples
from tests.simulator.conftest import Simulator


def status_of(sim: Simulator, token: str, response) -> tuple[str, str]:
    asset = sim.asset(token, response.json()["Id"])
    return asset["Status"], asset.get("Error", {}).get("Code", "")


def test_an_armed_mismatch_fails_the_next_face_checked_uploads_after_processing(sim: Simulator):
    sim.switch(processing_seconds=3)
    token = sim.token()
    group_id = sim.verified_group(token)
    sim.control("/_control/face-mismatch", {"group_id": group_id, "count": 1})

    first = sim.upload(token, group_id, samples.image())
    second = sim.upload(token, group_id, samples.image())

    assert status_of(sim, token, first) == ("Processing", "")
    sim.advance(3)
    assert status_of(sim, token, first) == ("Failed", "FaceMismatch")
    assert status_of(sim, token, second) == ("Active", "")


def test_audio_is_never_face_checked(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    sim.control("/_control/face-mismatch", {"group_id": group_id, "count": 1})
    voice = sim.upload(token, group_id, samples.wav(), "Audio")
    video = sim.upload(token, group_id, samples.video(), "Video")
    assert status_of(sim, token, voice) == ("Active", "")
    assert status_of(sim, token, video) == ("Failed", "FaceMismatch")


def test_a_media_failure_does_not_use_up_the_arm(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    sim.control("/_control/face-mismatch", {"group_id": group_id, "count": 1})
    tiny = sim.upload(token, group_id, samples.image(100, 100))
    fine = sim.upload(token, group_id, samples.image())
    assert status_of(sim, token, tiny) == ("Failed", "ResolutionTooSmall")
    assert status_of(sim, token, fine) == ("Failed", "FaceMismatch")


def test_always_fails_every_upload_until_disarmed(sim: Simulator):
    token = sim.token()
    group_id = sim.verified_group(token)
    sim.control("/_control/face-mismatch", {"group_id": group_id, "always": True})
    outcomes = [status_of(sim, token, sim.upload(token, group_id, samples.image())) for _ in "ab"]
    assert outcomes == [("Failed", "FaceMismatch")] * 2
    sim.control("/_control/face-mismatch", {"group_id": group_id, "always": False})
    assert status_of(sim, token, sim.upload(token, group_id, samples.image())) == ("Active", "")


def test_aigc_groups_are_not_face_checked(sim: Simulator):
    token = sim.token()
    group_id = sim.aigc_group(token)
    sim.control("/_control/face-mismatch", {"group_id": group_id, "always": True})
    assert status_of(sim, token, sim.upload(token, group_id, samples.image())) == ("Active", "")


def test_armed_moderation_fails_unless_skipped(sim: Simulator):
    token = sim.token()
    group_id = sim.aigc_group(token)
    sim.control("/_control/moderation", {"group_id": group_id, "always": True})
    flagged = sim.upload(token, group_id, samples.image())
    url = "data:image/jpeg;base64," + base64.b64encode(samples.image()).decode()
    skipped = sim.anyfast(
        token,
        "CreateAsset",
        {
            "GroupId": group_id,
            "Name": "skip",
            "AssetType": "Image",
            "URL": url,
            "Moderation": {"Strategy": "Skip"},
        },
    )
    code = "InputImageSensitiveContentDetected.PolicyViolation"
    assert status_of(sim, token, flagged) == ("Failed", code)
    assert status_of(sim, token, skipped) == ("Active", "")

"""The H5 page in a real (Debian) Chromium at phone size. Run with ``pytest -m browser``."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.simulator.conftest import FileServer, Simulator

pytestmark = pytest.mark.browser


def test_a_phone_completes_liveness_and_lands_on_the_callback(
    sim: Simulator, file_server: FileServer, tmp_path, browser
):
    file_server.files["/verified"] = b"<!doctype html><p>Callback reached</p>"
    token = sim.token()
    session = sim.session(token, file_server.url + "/verified?ref=abc")

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(session["H5Link"] + "?lng=en")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        complete = page.get_by_role("button", name="Complete")
        box = complete.bounding_box()
        assert box is not None and box["width"] > 300 and box["y"] + box["height"] <= 844
        page.screenshot(path=str(tmp_path / "h5.png"))

        page.get_by_label("Person being verified").fill("Ann Example")
        complete.click()
        page.wait_for_url(file_server.url + "/verified**")

        assert "Callback reached" in page.content()
        query = parse_qs(urlsplit(page.url).query)
    finally:
        context.close()

    assert query["ref"] == ["abc"] and query["resultCode"] == ["10000"]
    assert query["bytedToken"] == [session["BytedToken"]]
    result = sim.anyfast(token, "GetVisualValidateResult", {"BytedToken": query["bytedToken"][0]})
    assert result.json()["GroupId"].startswith("group-")
    assert sim.owned(token)["groups"][0]["person"] == "Ann Example"

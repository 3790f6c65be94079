"""The upload partial as HTML: a working form without JavaScript, and what static/js/upload.js
expects to find in it."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from assets import services
from assets.media.limits import MediaLimits

SCRIPT = Path(__file__).resolve().parents[2] / "static" / "js" / "upload.js"
ALL_KINDS = ["image", "video", "audio"]


class Tags(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k.rstrip("_")) == v for k, v in wanted.items())
        ]


def render(kinds: list[str] = ALL_KINDS, **limits: object) -> str:
    browser_limits = services.limits_for_browser(MediaLimits.from_mapping(limits), kinds)
    return render_to_string(
        "assets/_uploader.html",
        {
            "upload_url": "/groups/7/upload/",
            "limits": browser_limits,
            "csrf_token": "a-token",
            "csp_nonce": "a-nonce",
        },
    )


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_without_javascript_it_is_a_multipart_form_that_posts_the_files():
    tags = parse(render())
    [form] = tags.find("form")
    assert form == {
        "class": "upload-form",
        "method": "post",
        "enctype": "multipart/form-data",
        "action": "/groups/7/upload/",
    }
    assert tags.find("input", type="hidden", name="csrfmiddlewaretoken", value="a-token")
    [picker] = tags.find("input", type="file")
    # One file per request: the endpoint refuses a second file part (the script, which sends
    # each file on its own request, lets several be chosen).
    assert picker["name"] == "files" and "multiple" not in picker
    assert tags.find("button", type="submit")


def test_the_picker_offers_only_the_kinds_the_consent_covers():
    [picker] = parse(render(["image", "audio"])).find("input", type="file")
    tokens = picker["accept"].split(",")
    assert all(token.strip() for token in tokens)  # no empty token from a missing kind
    assert {".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".mp3", ".wav"} <= set(tokens)
    assert ".mp4" not in tokens and ".mov" not in tokens

    [picker] = parse(render(["video"])).find("input", type="file")
    assert set(picker["accept"].split(",")) >= {".mp4", ".mov"}
    assert ".jpg" not in picker["accept"]


def test_the_limits_are_written_out_for_people_and_for_the_script():
    html = render(["image", "video", "audio"])
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "each side 300–6000 px" in text
    assert "up to 30 MB" in text and "up to 50 MB" in text and "up to 15 MB" in text
    assert "2–15 s" in text

    found = re.search(r'<script id="media-limits" type="application/json">(.*?)</script>', html)
    assert found
    limits = json.loads(found.group(1))
    assert limits["kinds_allowed"] == ["image", "video", "audio"]
    assert limits["video"]["max_duration"] == 15.0 and limits["image"]["max_bytes"] == 29_999_999


def test_a_kind_outside_the_consent_is_not_listed():
    text = render(["image"])
    assert "Photos:" in text and "Videos:" not in text and "Voice recordings:" not in text


def test_it_has_no_inline_script_style_or_handler_the_csp_would_block():
    html = render()
    tags = parse(html)
    for attrs in tags.find("script"):
        assert attrs.get("type") == "application/json" or (
            attrs.get("src", "").endswith("js/upload.js") and attrs.get("nonce") == "a-nonce"
        )
    assert not [attrs for _, attrs in tags.tags if "style" in attrs]
    assert not re.search(r"\son[a-z]+=", html)


def test_every_word_the_script_uses_is_in_the_template():
    keys = set(re.findall(r'data-key="(\w+)"', render()))
    script = SCRIPT.read_text()
    used = set(re.findall(r'\bt\("(\w+)"', script))
    used |= {f"{prefix}_{kind}" for prefix in ("size", "consent") for kind in ALL_KINDS}
    used |= set(ALL_KINDS)  # t(kind) names the kind in a sentence
    assert used - keys == set()
    assert re.findall(r"\bt\(`(\w+)_\$\{kind\}`", script) == ["size", "consent"]


@pytest.mark.django_db
def test_the_group_page_carries_the_uploader_with_the_responses_own_nonce(
    staff_client, verified_group
):
    response = staff_client.get(f"/groups/{verified_group.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    tags = parse(html)
    [form] = tags.find("form", class_="upload-form")
    assert form["action"] == f"/groups/{verified_group.pk}/upload/"
    [script] = [
        attrs for attrs in tags.find("script") if attrs.get("src", "").endswith("js/upload.js")
    ]
    assert f"'nonce-{script['nonce']}'" in response["Content-Security-Policy"]
    assert tags.find("link", rel="stylesheet", href="/static/css/upload.css")

"""The upload component in Chromium: browser pre-checks, progress, retries and live status.

The first tests run the real partial and static/js/upload.js against a scripted stand-in for the
upload endpoint, so every answer the portal can give (a dropped connection, 5xx, 413, 422) is
reproducible. The last ones drive the real staff upload page against a live portal, a Celery
worker and the upstream simulator.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.template.loader import render_to_string
from django.utils.csp import build_policy
from playwright.sync_api import FilePayload, Page, expect

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CSRF = "harness-csrf-token-0123456789"
NONCE = "harness-nonce"
LIMITS: dict[str, Any] = {
    "image": {
        "extensions": ["gif", "heic", "heif", "jpeg", "jpg", "png", "webp"],
        "mimes": ["image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif"],
        "max_bytes": 29_999_999,
        "min_side": 300,
        "max_side": 6000,
        "min_aspect": 0.4,
        "max_aspect": 2.5,
        "allow_animated": False,
    },
    "video": {
        "extensions": ["mov", "mp4"],
        "mimes": ["video/mp4", "video/quicktime"],
        "max_bytes": 50_000_000,
        "min_side": 300,
        "max_side": 6000,
        "min_aspect": 0.4,
        "max_aspect": 2.5,
        "min_pixels": 407_696,
        "max_pixels": 8_295_044,
        "min_duration": 2.0,
        "max_duration": 15.0,
        "min_fps": 24.0,
        "max_fps": 60.0,
    },
    "audio": {
        "extensions": ["mp3", "wav"],
        "mimes": ["audio/mpeg", "audio/wav", "audio/x-wav"],
        "max_bytes": 15_000_000,
        "min_duration": 2.0,
        "max_duration": 15.0,
    },
    "kinds_allowed": ["image", "video", "audio"],
}
MIME = {
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "heic": "image/heic",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "txt": "text/plain",
}


def payload(name: str, path: Path) -> FilePayload:
    """A file for `set_input_files`, under the name the person would see."""
    return {"name": name, "mimeType": MIME[name.rsplit(".", 1)[-1]], "buffer": path.read_bytes()}


def drop(page: Page, files: list[FilePayload], *, big: dict[str, int] | None = None) -> None:
    """Drops files on the zone as a person dragging them from the desktop would. `big` adds
    zero-filled files of the given sizes, made in the page to spare the transfer."""
    encoded = [
        {"name": f["name"], "type": f["mimeType"], "data": base64.b64encode(f["buffer"]).decode()}
        for f in files
    ]
    page.evaluate(
        """([files, big]) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: f.type }));
            }
            for (const [name, size] of Object.entries(big)) {
                const type = name.endsWith(".mp4") ? "video/mp4" : "image/jpeg";
                transfer.items.add(new File([new Uint8Array(size)], name, { type }));
            }
            const zone = document.querySelector("[data-drop]");
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
            }
        }""",
        [encoded, big or {}],
    )


def card(page: Page, name: str):
    return page.locator(f'.upload-card[data-name="{name}"]')


# --- A scripted stand-in for the upload endpoint ------------------------------------------------


@dataclass
class Harness:
    """Serves the partial on a page with the portal's CSP, and answers uploads by file name:
    `flaky` drops the first connection, `crash` answers 500 once, `huge` 413, `refuse` 422,
    `warn` gets a face warning once the worker has checked it (in the status answers, as the
    portal does), `face` fails upstream, `slow` takes half a second."""

    url: str = ""
    uploads: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    assets: dict[int, dict[str, Any]] = field(default_factory=dict)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def upload(self, headers: Any, body: bytes) -> tuple[int, Any] | None:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        fields = [
            (part.get_param("name", header="content-disposition"), part)
            for part in message.iter_parts()
        ]
        files = [part for name, part in fields if name == "files"]
        name = (files[0].get_filename() if files else "") or ""
        with self.lock:
            self.attempts[name] = attempt = self.attempts.get(name, 0) + 1
            self.uploads.append(
                {
                    "name": name,
                    "files": len(files),
                    "size": len(files[0].get_payload(decode=True)) if files else 0,
                    "csrf_header": headers.get("X-CSRFToken"),
                    "csrf_field": next(
                        (p.get_content().strip() for n, p in fields if n == "csrfmiddlewaretoken"),
                        None,
                    ),
                    "accept": headers.get("Accept"),
                }
            )
            asset_id = len(self.uploads)
        if "slow" in name:
            time.sleep(0.5)
        if "flaky" in name and attempt == 1:
            return None
        if "crash" in name and attempt == 1:
            return 500, "<h1>Server Error (500)</h1>"
        if "huge" in name:
            return 413, {
                "error": "The file is too large: one upload may be at most 50 MB. Send one file at a time."
            }
        asset: dict[str, Any] = {
            "id": asset_id,
            "name": name,
            "kind": "image",
            "status": "validated",
            "status_label": "Checked",
            "problems": [],
            "status_url": f"/status/{asset_id}/",
            "asset_uri": "",
        }
        if "refuse" in name:
            problem = {
                "code": "image.too_small",
                "message": "The server says it is too small.",
                "severity": "error",
            }
            asset.update(status="rejected", status_label="Refused", problems=[problem])
            return 422, {"assets": [asset]}
        self.assets[asset_id] = {"name": name, "polls": 0}
        return 201, {"assets": [asset]}

    def status(self, asset_id: int) -> tuple[int, Any]:
        asset = self.assets[asset_id]
        asset["polls"] += 1
        problems = []
        if "warn" in asset["name"]:
            advice = "The face is small in the picture; a closer photo works better."
            problems = [{"code": "face_too_small", "message": advice, "severity": "warning"}]
        answer = {
            "id": asset_id,
            "asset_uri": "",
            "error": None,
            "terminal": False,
            "problems": problems,
        }
        if asset["polls"] == 1:
            return 200, {**answer, "status": "processing", "status_label": "Upstream processing"}
        if "face" in asset["name"]:
            error = {
                "code": "FaceMismatch",
                "message": "The face in this file doesn't match the person who did the verification.",
                "fix": "Upload a clear, front-facing picture of the same person.",
            }
            return 200, {
                **answer,
                "status": "failed",
                "status_label": "Failed upstream",
                "error": error,
                "terminal": True,
            }
        return 200, {
            **answer,
            "status": "active",
            "status_label": "Active",
            "asset_uri": f"asset://asset-20260101-{asset_id:04d}",
            "terminal": True,
        }


def harness_page(limits: dict[str, Any]) -> str:
    partial = render_to_string(
        "assets/_uploader.html",
        {"upload_url": "/upload/", "limits": limits, "csrf_token": CSRF, "csp_nonce": NONCE},
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/static/css/sitter.css">'
        f'<script src="/static/js/sitter.js" nonce="{NONCE}" defer></script>'
        f'</head><body><main class="page"><h1>Upload</h1>{partial}</main></body></html>'
    )


@pytest.fixture
def serve():
    """Starts a harness for a set of limits; returns it with its base URL set."""
    servers: list[ThreadingHTTPServer] = []
    policy = build_policy(django_settings.SECURE_CSP, NONCE)

    def start(limits: dict[str, Any] = LIMITS) -> Harness:
        harness, page = Harness(), harness_page(limits).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                if isinstance(body, str):
                    data, content_type = body.encode(), "text/html"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Security-Policy", policy)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/":
                    return self.reply(200, page, "text/html; charset=utf-8")
                if match := re.fullmatch(r"/static/(css|js)/(\w+\.(css|js))", self.path):
                    kind = "text/css" if match[3] == "css" else "text/javascript"
                    return self.reply(
                        200, (ROOT / "static" / match[1] / match[2]).read_bytes(), kind
                    )
                if match := re.fullmatch(r"/status/(\d+)/", self.path):
                    return self.reply(*harness.status(int(match[1])))
                return self.reply(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with harness.lock:
                    harness.in_flight += 1
                    harness.most_in_flight = max(harness.most_in_flight, harness.in_flight)
                try:
                    answer = harness.upload(self.headers, body)
                finally:
                    with harness.lock:
                        harness.in_flight -= 1
                if answer is None:  # the connection drops before any answer
                    self.close_connection = True
                    return
                self.reply(*answer)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        harness.url = f"http://127.0.0.1:{server.server_address[1]}"
        return harness

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_dropped_files_are_checked_sent_one_per_request_and_followed_to_active(
    serve, desktop, console_errors, media
):
    harness = serve()
    page = console_errors(desktop.new_page())
    page.goto(harness.url)
    expect(page.locator(".upload-submit")).to_be_hidden()  # files go as soon as they are added

    drop(
        page,
        [
            payload("me.jpg", media.image((640, 480))),
            payload("clip.mp4", media.video((640, 640), seconds=3)),
            payload("voice.mp3", media.mp3(3.0)),
        ],
    )
    expect(card(page, "me.jpg").locator(".verdict")).to_have_text("Looks right: 640×480 px.")
    expect(card(page, "clip.mp4").locator(".verdict")).to_have_text("Looks right: 640×640 px, 3 s.")
    expect(card(page, "voice.mp3").locator(".verdict")).to_have_text(
        re.compile(r"Looks right: 3(\.\d)? s\.")
    )
    expect(card(page, "me.jpg").locator(".upload-preview img")).to_be_visible()
    expect(card(page, "clip.mp4").locator(".upload-preview video")).to_be_visible()
    expect(card(page, "voice.mp3").locator(".upload-preview audio[controls]")).to_be_visible()

    for name in ("me.jpg", "clip.mp4", "voice.mp3"):
        expect(card(page, name)).to_have_attribute("data-status", "active")
        expect(card(page, name).locator(".asset-uri")).to_have_text(
            re.compile(r"^asset://asset-2026")
        )
    uri = card(page, "me.jpg").locator(".asset-uri").text_content()
    expect(card(page, "me.jpg").get_by_role("button", name="Copy")).to_have_attribute(
        "data-copy", uri
    )

    assert sorted(u["name"] for u in harness.uploads) == ["clip.mp4", "me.jpg", "voice.mp3"]
    for upload in harness.uploads:
        assert upload["files"] == 1
        assert upload["csrf_header"] == CSRF and upload["csrf_field"] == CSRF
        assert upload["accept"] == "application/json"
    assert console_errors.errors == []


def test_files_breaking_a_limit_are_refused_in_the_browser_and_never_sent(
    serve, desktop, console_errors, media
):
    harness = serve()
    page = console_errors(desktop.new_page())
    page.goto(harness.url)
    drop(
        page,
        [
            payload("small.jpg", media.image((250, 400))),
            payload("wide.jpg", media.image((1200, 300))),
            payload("long.mp4", media.video((640, 640), seconds=18.2)),
            payload("short.wav", media.wav(1.0)),
            payload("moving.gif", media.image((400, 400), "GIF", frames=3)),
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"},
        ],
        big={"huge.mp4": 61_300_000, "edge.jpg": 30_000_000},
    )
    verdicts = {
        "small.jpg": "Image is 250×400 px; each side must be at least 300 px.",
        "wide.jpg": "Image is 1200×300 px; width divided by height is 4, and must be between 0.4 and 2.5.",
        "long.mp4": "Video is 18.2 s long; the limit is 15 s.",
        "short.wav": "Audio is 1 s long; it must be at least 2 s.",
        "moving.gif": "Image is animated; only still images are accepted.",
        "huge.mp4": "File is 61.3 MB; the limit for video is 50 MB.",
        "edge.jpg": "File is 30,000,000 bytes; the limit for images is 29,999,999 bytes.",
        "notes.txt": re.compile(
            r"^This type of file isn't accepted; send GIF, HEIC, .*, MOV, MP4, MP3, WAV\.$"
        ),
    }
    for name, verdict in verdicts.items():
        expect(card(page, name).locator(".verdict")).to_have_text(verdict)
        expect(card(page, name)).to_have_attribute("data-status", "refused")
        expect(card(page, name).locator(".upload-status")).to_have_text("Not sent")
        expect(card(page, name).get_by_role("button", name="Retry")).to_be_hidden()
    page.wait_for_timeout(300)
    assert harness.uploads == []

    card(page, "notes.txt").get_by_role("button", name="Dismiss").click()
    expect(card(page, "notes.txt")).to_have_count(0)
    assert console_errors.errors == []


def test_a_file_outside_the_consent_is_refused_with_a_sentence_saying_so(
    serve, desktop, console_errors, media
):
    harness = serve({**LIMITS, "kinds_allowed": ["image", "video"]})
    page = console_errors(desktop.new_page())
    page.goto(harness.url)
    accept = page.locator('input[type="file"]').get_attribute("accept") or ""
    assert ".jpg" in accept and ".mp4" in accept and ".mp3" not in accept
    page.locator('input[type="file"]').set_input_files([payload("voice.mp3", media.mp3(3.0))])
    expect(card(page, "voice.mp3").locator(".verdict")).to_have_text(
        "The consent doesn't cover voice recordings, so this file can't be sent."
    )
    page.wait_for_timeout(300)
    assert harness.uploads == []
    assert console_errors.errors == []


def test_a_file_the_browser_cannot_decode_is_sent_for_the_server_to_judge(
    serve, desktop, console_errors, media
):
    harness = serve()
    page = console_errors(desktop.new_page())
    page.goto(harness.url)
    page.locator('input[type="file"]').set_input_files(
        [payload("phone.heic", media.image((640, 480), "HEIF", suffix="heic"))]
    )
    expect(card(page, "phone.heic").locator(".verdict")).to_have_text(
        "Your browser can't preview this file; the server will check it."
    )
    expect(card(page, "phone.heic").locator(".upload-ext")).to_have_text("HEIC")
    expect(card(page, "phone.heic")).to_have_attribute("data-status", "active")
    assert [u["name"] for u in harness.uploads] == ["phone.heic"]
    # Chromium logs nothing for an image it can't decode; any error here is ours.
    assert console_errors.errors == []


def test_an_interrupted_or_crashed_upload_is_retried_alone(serve, desktop, console_errors, media):
    harness = serve()
    page = console_errors(desktop.new_page())
    page.goto(harness.url)
    picture = media.image((640, 480))
    page.locator('input[type="file"]').set_input_files(
        [payload("flaky.jpg", picture), payload("crash.jpg", picture), payload("fine.jpg", picture)]
    )
    flaky, crash = card(page, "flaky.jpg"), card(page, "crash.jpg")
    expect(flaky).to_have_attribute("data-status", "error")
    expect(flaky.locator(".upload-error")).to_have_text("Upload interrupted")
    expect(crash).to_have_attribute("data-status", "error")
    expect(crash.locator(".upload-error")).to_have_text(
        "The server had a problem (500); try again."
    )
    expect(card(page, "fine.jpg")).to_have_attribute("data-status", "active")

    flaky.get_by_role("button", name="Retry").click()
    crash.get_by_role("button", name="Retry").press("Enter")  # keyboard works as well
    expect(flaky).to_have_attribute("data-status", "active")
    expect(crash).to_have_attribute("data-status", "active")
    expect(flaky.locator(".upload-error")).to_be_hidden()
    assert harness.attempts == {"flaky.jpg": 2, "crash.jpg": 2, "fine.jpg": 1}
    # Chromium reports the dropped connection and the 500 as console errors of the page itself.
    unexpected = [
        e for e in console_errors.errors if "ERR_EMPTY_RESPONSE" not in e and "500" not in e
    ]
    assert unexpected == []


def test_the_servers_refusals_warnings_and_upstream_failures_are_shown(
    serve, desktop, console_errors, media
):
    harness = serve()
    page = console_errors(desktop.new_page())
    page.goto(harness.url)
    picture = media.image((640, 480))
    page.locator('input[type="file"]').set_input_files(
        [
            payload("refuse.jpg", picture),
            payload("huge-anyway.jpg", picture),
            payload("warn.jpg", picture),
            payload("face.jpg", picture),
        ]
    )
    refused = card(page, "refuse.jpg")
    expect(refused).to_have_attribute("data-status", "rejected")
    expect(refused.locator(".upload-status")).to_have_text("Refused")
    expect(refused.locator(".problem.error")).to_have_text("The server says it is too small.")

    huge = card(page, "huge-anyway.jpg")
    expect(huge).to_have_attribute("data-status", "rejected")
    expect(huge.locator(".upload-error")).to_have_text(
        "The file is too large: one upload may be at most 50 MB. Send one file at a time."
    )
    expect(huge.get_by_role("button", name="Retry")).to_be_hidden()

    warned = card(page, "warn.jpg")
    expect(warned).to_have_attribute("data-status", "active")
    expect(warned.locator(".problem.warning")).to_contain_text("a closer photo works better")

    face = card(page, "face.jpg")
    expect(face).to_have_attribute("data-status", "failed")
    expect(face.locator(".upload-status")).to_have_text("Failed upstream")
    expect(face.locator(".upload-error")).to_contain_text("doesn't match the person")
    expect(face.locator(".upload-error .fix")).to_have_text(
        "Upload a clear, front-facing picture of the same person."
    )
    expect(face.locator(".asset-uri")).to_have_count(0)
    assert page.locator("[data-announce]").get_attribute("aria-live") == "polite"
    unexpected = [e for e in console_errors.errors if not re.search(r"\b(413|422)\b", e)]
    assert unexpected == []


def test_no_more_than_two_uploads_run_at_once_and_progress_is_shown(
    serve, phone_browser, console_errors, media
):
    harness = serve()
    page = console_errors(phone_browser.new_page())
    page.goto(harness.url)
    picture = media.image((640, 480))
    page.locator('input[type="file"]').set_input_files(
        [payload(f"slow-{n}.jpg", picture) for n in range(5)]
    )
    expect(card(page, "slow-4.jpg")).to_have_attribute("data-status", "queued")
    expect(page.locator('.upload-card[data-status="active"]')).to_have_count(5, timeout=15_000)
    assert harness.most_in_flight == 2
    assert console_errors.errors == []


def test_it_fits_a_phone_screen_and_works_from_the_keyboard(
    serve, phone_browser, console_errors, media
):
    harness = serve()
    page = console_errors(phone_browser.new_page())
    page.goto(harness.url)
    page.locator('input[type="file"]').set_input_files(
        [
            payload(
                "a-rather-long-file-name-from-a-phone-camera-20260101-120000.jpg",
                media.image((640, 480)),
            )
        ]
    )
    expect(page.locator(".upload-card .asset-uri")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # Tab reaches the file input (the picker opens on Enter) and then the card's buttons.
    page.locator("body").focus()
    focused = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("document.activeElement.type || document.activeElement.tagName")
        )
    assert "file" in focused and "button" in focused
    assert console_errors.errors == []


def test_without_javascript_it_is_a_plain_form(serve, browser):
    harness = serve()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(harness.url)
    expect(page.get_by_role("button", name="Upload", exact=True)).to_be_visible()
    expect(page.get_by_label("Files to upload")).to_have_attribute("name", "files")
    expect(page.locator('input[type="file"][name="files"]:not([multiple])')).to_be_visible()
    expect(page.locator("[data-hint]")).to_be_hidden()
    context.close()


# --- The real upload page: live portal, Celery worker, upstream simulator -----------------------


@pytest.fixture
def beat(worker):
    """What celery beat does meanwhile: queue the asset status sweep, here every second."""
    from assets.tasks import sweep_processing

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            sweep_processing.delay()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.fixture
def group(portal, worker, beat, simulator, person, account, project, consent_text, staff_user):
    from tests.journey import make_verified_group

    simulator.control("POST", "switches", json={"processing_seconds": 0})
    return make_verified_group(person, account, project, consent_text, staff_user, simulator)


def staff_upload_page(context, portal, group, console_errors) -> Page:
    page = console_errors(context.new_page())
    page.goto(f"{portal.url}/login/")
    page.get_by_label("Username").fill("staffer")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto(f"{portal.url}/groups/{group.pk}/upload/")
    expect(page.locator("[data-drop]")).to_be_visible()
    return page


def ours(console_errors, portal, *allowed: str) -> list[str]:
    """The portal's own console errors, less the failed-resource lines of expected refusals."""
    return [
        error
        for error in console_errors.errors
        if error.startswith(portal.url) and not any(status in error for status in allowed)
    ]


def test_staff_drop_a_photo_a_video_and_a_voice_and_each_becomes_active(
    group, portal, desktop, console_errors, media
):
    from assets.models import Asset

    page = staff_upload_page(desktop, portal, group, console_errors)
    drop(
        page,
        [
            payload("me.jpg", media.image((800, 1000))),
            payload("clip.mp4", media.video((640, 640), seconds=3)),
            payload("voice.mp3", media.mp3(3.0)),
        ],
    )
    for name in ("me.jpg", "clip.mp4", "voice.mp3"):
        expect(card(page, name)).to_have_attribute("data-status", "active", timeout=30_000)
        expect(card(page, name).locator(".upload-status")).to_have_text("Active")
        asset = Asset.objects.get(original_name=name)
        expect(card(page, name).locator(".asset-uri")).to_have_text(asset.asset_uri)
        expect(card(page, name).get_by_role("button", name="Copy")).to_have_attribute(
            "data-copy", asset.asset_uri
        )
    assert Asset.objects.filter(group=group, status="active").count() == 3
    assert ours(console_errors, portal) == []


def test_the_face_check_warning_arrives_on_the_card_and_the_group_page(
    group, portal, desktop, console_errors, media
):
    page = staff_upload_page(desktop, portal, group, console_errors)
    drop(page, [payload("landscape.jpg", media.image((800, 1000)))])
    landscape = card(page, "landscape.jpg")
    expect(landscape).to_have_attribute("data-status", "active", timeout=30_000)
    expect(landscape.locator(".problem.warning")).to_have_text(
        "No face was found; the picture must show the verified person's face clearly and upright."
    )
    page.goto(f"{portal.url}/groups/{group.pk}/")
    expect(page.locator("#asset-list")).to_contain_text("No face was found")
    assert ours(console_errors, portal) == []


def test_files_over_the_limits_are_refused_in_the_browser_and_again_by_the_server(
    group, portal, desktop, console_errors, media
):
    from assets.models import Asset

    page = staff_upload_page(desktop, portal, group, console_errors)
    long_video = payload("long.mp4", media.video((640, 640), seconds=18.2))
    drop(page, [long_video], big={"huge.mp4": 61_300_000})
    expect(card(page, "long.mp4").locator(".verdict")).to_have_text(
        "Video is 18.2 s long; the limit is 15 s."
    )
    expect(card(page, "huge.mp4").locator(".verdict")).to_have_text(
        "File is 61.3 MB; the limit for video is 50 MB."
    )
    for name in ("long.mp4", "huge.mp4"):
        expect(card(page, name)).to_have_attribute("data-status", "refused")
    page.wait_for_timeout(500)
    assert not Asset.objects.exists()

    # Past the browser, straight to the endpoint with the page's session and CSRF token.
    # (requests, not page.request: Playwright ships a request body through its driver as JSON,
    # which takes minutes for 60 MB.)
    token = page.locator('.upload-form input[name="csrfmiddlewaretoken"]').input_value()
    cookies = {cookie["name"]: cookie["value"] for cookie in desktop.cookies()}

    def force(name: str, data: bytes, mime: str) -> requests.Response:
        return requests.post(
            f"{portal.url}/groups/{group.pk}/upload/",
            headers={"X-CSRFToken": token, "Accept": "application/json"},
            cookies=cookies,
            files={"files": (name, data, mime)},
            timeout=60,
        )

    answer = force("long.mp4", long_video["buffer"], "video/mp4")
    assert answer.status_code == 422, answer.text
    [refused] = answer.json()["assets"]
    assert refused["status"] == "rejected"
    assert any(p["severity"] == "error" for p in refused["problems"]), refused

    answer = force("huge.mp4", bytes(61_300_000), "video/mp4")
    assert answer.status_code == 413, answer.text
    assert "too large" in answer.json()["error"]
    assert Asset.objects.filter(status="active").count() == 0
    assert ours(console_errors, portal) == []


def test_a_face_mismatch_is_explained_on_the_card(
    group, portal, desktop, console_errors, media, simulator
):
    simulator.control("POST", "face-mismatch", json={"group_id": group.upstream_id, "count": 1})
    page = staff_upload_page(desktop, portal, group, console_errors)
    drop(page, [payload("someone-else.jpg", media.image((800, 1000)))])
    face = card(page, "someone-else.jpg")
    expect(face).to_have_attribute("data-status", "failed", timeout=30_000)
    expect(face.locator(".upload-error")).to_contain_text("match")
    expect(face.locator(".upload-error .fix")).to_contain_text("front-facing")
    expect(face.get_by_role("button", name="Dismiss")).to_be_visible()
    assert ours(console_errors, portal) == []


def test_the_person_uploads_from_their_own_link_on_a_phone(
    group, portal, phone_browser, console_errors, media, staff_user
):
    from verification import services

    link = services.show_link(session=group.session, user=staff_user)
    page = console_errors(phone_browser.new_page())
    page.goto(f"{link}upload/")
    page.locator('input[type="file"]').set_input_files(
        [payload("selfie.jpg", media.image((800, 1000))), payload("hello.wav", media.wav(3.0))]
    )
    for name in ("selfie.jpg", "hello.wav"):
        expect(card(page, name)).to_have_attribute("data-status", "active", timeout=30_000)
        # The upstream's id is the studio's business: the person sees that the file is ready.
        expect(card(page, name).locator(".asset-uri")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert ours(console_errors, portal) == []


def test_staff_choose_which_project_an_upload_is_for(
    group, portal, desktop, console_errors, media, consent_text, staff_user
):
    from django.test import Client

    from assets.models import Asset
    from tests.journey import PHONE, code_in_last_message
    from verification import services
    from verification.models import Consent, Project

    spring = Project.objects.create(name="Spring campaign", intended_use="Spring ads.")
    session = services.start_session(
        person=group.person,
        account_id=group.account_id,
        project=spring,
        consent_text=consent_text,
        media_kinds=["image"],
        channel="in_person",
        user=staff_user,
    )
    link = services.show_link(session=session, user=staff_user).removeprefix(portal.url)
    phone = Client(HTTP_USER_AGENT=PHONE)
    phone.post(f"{link}consent/", {"signature_name": group.person.full_name, "agree": "on"})
    # A new project on a verified group holds once the code sent to the person is entered.
    phone.post(f"{link}code/", {"code": code_in_last_message()})
    first = Consent.objects.exclude(project=spring).get()

    page = staff_upload_page(desktop, portal, group, console_errors)
    page.get_by_label("For the project").select_option(str(first.pk))
    drop(page, [payload("me.jpg", media.image((800, 1000)))])
    expect(card(page, "me.jpg")).to_have_attribute("data-status", "active", timeout=30_000)
    assert Asset.objects.get(original_name="me.jpg").consent_id == first.pk
    assert ours(console_errors, portal) == []

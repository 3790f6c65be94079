"""Browser tests: Debian's Chromium driven by Playwright, against a live test server."""

import os
import threading

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
}


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def phone_browser(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def portal(live_server, ledger_transactional, settings):
    """The live server as the public address people and the upstream reach."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    return live_server


@pytest.fixture
def worker(ledger_transactional):
    """A real Celery worker in a thread, on the in-memory broker the tests use."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


@pytest.fixture
def console_errors():
    """Collects page errors and CSP violations; each test asserts none happened."""
    errors: list[str] = []
    lock = threading.Lock()

    def watch(page):
        def on_console(message):
            if message.type == "error":
                with lock:
                    errors.append(f"{page.url}: {message.text} {message.location.get('url', '')}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    watch.errors = errors  # type: ignore[attr-defined]
    return watch

"""bin/healthcheck, the container probe: /readyz with a Host header Django accepts."""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Readyz(BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers["Host"]))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Readyz)
    Readyz.seen, Readyz.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/readyz"
    server.shutdown()


def probe(url: str, **env: str) -> int:
    environment = {"PATH": os.environ["PATH"], "HEALTHCHECK_URL": url, **env}
    return subprocess.run(
        [sys.executable, str(ROOT / "bin" / "healthcheck")], env=environment, timeout=15
    ).returncode


def test_it_asks_readyz_as_the_first_allowed_host(web):
    assert probe(web, ALLOWED_HOSTS="sitter.example.com,other.example.com") == 0
    assert Readyz.seen == [("/readyz", "sitter.example.com")]


def test_a_wildcard_domain_becomes_its_bare_name(web):
    probe(web, ALLOWED_HOSTS=".example.com")
    assert Readyz.seen[-1][1] == "example.com"


def test_it_fails_when_readyz_does_or_when_nothing_answers(web):
    Readyz.status = 503
    assert probe(web) == 1
    assert probe("http://127.0.0.1:9/readyz") == 1


def test_the_image_and_compose_use_it():
    assert 'CMD ["bin/healthcheck"]' in (ROOT / "Dockerfile").read_text()
    assert '["CMD", "bin/healthcheck"]' in (ROOT / "docker-compose.yml").read_text()

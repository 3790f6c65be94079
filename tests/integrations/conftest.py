import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import requests
from django.test import Client

from integrations import keys
from tests.simulator_harness import free_port

RECEIVER = Path(__file__).with_name("receiver.py")
ALL_SCOPES = ["read", "invite", "upload", "clear", "webhooks"]


class Api:
    """A client with one API key that checks every answer against the published schema."""

    def __init__(self, secret: str, schema: dict[str, Any]) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        self.secret = secret
        self.schema = schema

    def _check(self, method: str, path: str, response: Any) -> Any:
        conforms(self.schema, method, path, response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self._check("get", path, self.client.get(path, params))

    def post(self, path: str, body: Any = None, **headers: Any) -> Any:
        response = self.client.post(
            path, json.dumps(body or {}), content_type="application/json", headers=headers
        )
        return self._check("post", path, response)

    def upload(self, path: str, files: dict[str, Any], **headers: Any) -> Any:
        return self._check("post", path, self.client.post(path, files, headers=headers))

    def delete(self, path: str) -> Any:
        return self._check("delete", path, self.client.delete(path))


def _template(schema: dict[str, Any], path: str) -> str:
    parts = path.split("?")[0].rstrip("/").split("/")
    for template in schema["paths"]:
        candidate = template.split("/")
        if len(candidate) == len(parts) and all(
            c == p or (c.startswith("{") and c.endswith("}"))
            for c, p in zip(candidate, parts, strict=True)
        ):
            return template
    raise AssertionError(f"{path} is not in the schema")


def conforms(schema: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The answer's status is listed for the operation and its body matches the listed schema."""
    operation = schema["paths"][_template(schema, path)][method]
    listed = operation["responses"]
    assert str(response.status_code) in listed, (response.status_code, response.content[:300])
    body_schema = listed[str(response.status_code)]["content"]["application/json"]["schema"]
    jsonschema_rs.Draft202012Validator({**schema, **body_schema}).validate(response.json())


@pytest.fixture
def openapi(db) -> dict[str, Any]:
    return Client().get("/api/v1/openapi.json").json()


@pytest.fixture
def make_api(db, openapi):
    def make(*scopes: str, name: str = "render farm", **options: Any) -> Api:
        _, secret = keys.create_key(
            name=name, scopes=list(scopes or ALL_SCOPES), created_by=None, **options
        )
        return Api(secret, openapi)

    return make


@pytest.fixture
def api(make_api) -> Api:
    return make_api(*ALL_SCOPES)


class Receiver:
    def __init__(self, tmp_path: Path, failures: int) -> None:
        self.port = free_port()
        self.log = tmp_path / f"received-{self.port}.jsonl"
        self.log.touch()
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(self.port), str(self.log), str(failures)]
        )
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        for _ in range(100):
            try:
                requests.get(self.url, timeout=0.2)
                break
            except requests.ConnectionError:
                time.sleep(0.05)

    def received(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


@pytest.fixture
def receiver_factory(tmp_path, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    started = []

    def start(failures: int = 0) -> Receiver:
        receiver = Receiver(tmp_path, failures)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()

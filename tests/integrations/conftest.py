import json
from typing import Any

import jsonschema_rs
import pytest
from django.test import Client

from integrations import keys

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

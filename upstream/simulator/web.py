"""Plain request and reply values passed between the HTTP server and the route handlers."""

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    raw_query: str
    headers: Message
    body: bytes = b""

    @property
    def query(self) -> dict[str, str]:
        """First value of each query parameter."""
        values: dict[str, str] = {}
        for key, value in parse_qsl(self.raw_query, keep_blank_values=True):
            values.setdefault(key, value)
        return values

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body, first value of each field."""
        values: dict[str, str] = {}
        for key, value in parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True):
            values.setdefault(key, value)
        return values


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_reply(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Reply(status, body, "application/json; charset=utf-8", headers or [])


def html_reply(status: int, html: str) -> Reply:
    return Reply(status, html.encode(), "text/html; charset=utf-8")


def redirect(location: str, status: int = 303) -> Reply:
    return Reply(status, b"", "text/plain", [("Location", location)])


@dataclass(frozen=True)
class Handled:
    """An adapter's answer plus the billing line it named (Anyfast ``model``), for the log."""

    reply: Reply
    model: str = ""

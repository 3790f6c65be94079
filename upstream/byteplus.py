"""The BytePlus direct adapter (CONTRACT.md §4): ``POST /?Action=<Action>&Version=2024-01-01``,
HMAC-SHA256 signed, results wrapped in ``{"ResponseMetadata": …, "Result": …}``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from upstream import errors
from upstream.bodies import StreamBody
from upstream.client import UpstreamClient
from upstream.codes import error_for_answer, find_error, parse_retry_after
from upstream.signing import Credentials, mask, sha256_hex, sign
from upstream.transport import Answer, HttpResponse, Prepared, Transport

VERSION = "2024-01-01"
DEFAULT_PROJECT = "default"
# Verification actions don't belong to a project; asset and group actions do.
_PROJECT_ACTIONS = frozenset(
    {
        "CreateAsset",
        "GetAsset",
        "ListAssets",
        "DeleteAsset",
        "ListAssetGroups",
        "DeleteAssetGroup",
        "CreateAssetGroup",
    }
)


class BytePlusClient(UpstreamClient):
    adapter = "byteplus"
    _sessions_allowed_note: ClassVar[str] = (
        "BytePlus accepted the signature and let the access key read a verification session "
        "(its IAM policy allows the verification actions)"
    )

    def __init__(
        self,
        *,
        access_key_id: str,
        secret_access_key: str,
        region: str,
        base_url: str,
        transport: Transport,
        project_name: str = DEFAULT_PROJECT,
        **kwargs: Any,
    ) -> None:
        if not access_key_id.strip() or not secret_access_key.strip():
            raise errors.AccountMisconfigured(
                "the account needs both an access key id and a secret access key"
            )
        if not region.strip():
            raise errors.AccountMisconfigured("the account has no region")
        super().__init__(base_url=base_url, transport=transport, **kwargs)
        self._credentials = Credentials(
            access_key_id.strip(), secret_access_key.strip(), region.strip()
        )
        self.project_name = project_name or DEFAULT_PROJECT
        parts = urlsplit(self.base_url)
        self._path = parts.path or "/"
        # Exactly what requests puts on the wire as Host: the port only when not the default.
        default_port = 443 if parts.scheme == "https" else 80
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # IPv6 literal
        self._host = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
        self._endpoint = f"{parts.scheme}://{parts.netloc}{self._path}"

    def __repr__(self) -> str:
        key = mask(self._credentials.access_key_id)
        return f"<{type(self).__name__} {self.label!r} {self.base_url} key={key}>"

    def _secrets(self) -> tuple[str, ...]:
        return (self._credentials.secret_access_key, self._credentials.access_key_id)

    def _defaults(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action not in _PROJECT_ACTIONS or "ProjectName" in payload:
            return payload
        return {**payload, "ProjectName": self.project_name}

    def _prepare(self, action: str, body: dict[str, Any] | StreamBody) -> Prepared:
        query = {"Action": action, "Version": VERSION}
        if isinstance(body, StreamBody):
            data: bytes | StreamBody = body
            digest = body.sha256_hex()
        else:
            data = json.dumps(
                self._defaults(action, body), separators=(",", ":"), ensure_ascii=False
            ).encode()
            digest = sha256_hex(data)
        headers = sign(
            credentials=self._credentials,
            method="POST",
            host=self._host,
            path=self._path,
            query=query,
            body_sha256=digest,
            now=datetime.now(UTC),
        )
        headers["Accept"] = "application/json"
        return Prepared("POST", f"{self._endpoint}?{urlencode(query)}", headers, data)

    def _interpret(self, action: str, response: HttpResponse) -> Answer:
        try:
            payload: object = json.loads(response.body) if response.body.strip() else None
        except ValueError:
            payload = None
        request_id = ""
        if isinstance(payload, dict) and isinstance(payload.get("ResponseMetadata"), dict):
            request_id = str(payload["ResponseMetadata"].get("RequestId") or "")[:128]
        detail = find_error(payload)
        if 200 <= response.status < 300 and isinstance(payload, dict) and detail is None:
            result = payload.get("Result")
            if result is None and "ResponseMetadata" in payload:
                result = {}  # deletes may answer without a Result
            if isinstance(result, dict):
                return Answer(result=result, request_id=request_id)
            raise errors.UnexpectedResponse(
                "the answer has no Result object",
                action=action,
                http_status=response.status,
                request_id=request_id,
            )
        raise error_for_answer(
            action=action,
            status=response.status,
            content_type=response.headers.get("Content-Type", ""),
            body=response.body,
            detail=detail,
            request_id=request_id,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

"""The Anyfast gateway adapter (CONTRACT.md §1): ``POST /volc/asset/<Action>``, Bearer token,
bare result objects, three error shapes."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from upstream import errors
from upstream.bodies import StreamBody, multipart
from upstream.client import UpstreamClient
from upstream.codes import error_for_answer, find_error, parse_retry_after
from upstream.redaction import Secret
from upstream.transport import Answer, HttpResponse, Prepared, Transport
from upstream.types import AssetType, MultipartSource

# `model` picks Anyfast's billing line; only create calls cost money.
MODELS = {
    AssetType.IMAGE.value: "volc-asset",
    AssetType.VIDEO.value: "volc-asset-video",
    AssetType.AUDIO.value: "volc-asset-audio",
}
DEFAULT_MODEL = "volc-asset"
_MODEL_ACTIONS = frozenset({"CreateAsset", "ListAssets", "ListAssetGroups", "CreateAssetGroup"})
# Gateways name their request id differently; the first present wins.
REQUEST_ID_HEADERS = ("X-Request-Id", "X-Oneapi-Request-Id", "X-Tt-Logid", "Request-Id")
_ERROR_ONLY_KEYS = frozenset({"code", "message", "msg", "data", "success"})
_SUCCESS_CODES = frozenset({"0", "200", "success", "ok"})


class AnyfastClient(UpstreamClient):
    adapter = "anyfast"
    supports_multipart: ClassVar[bool] = True
    _sessions_allowed_note: ClassVar[str] = (
        "the gateway accepted the token and let it read a verification session, which it "
        "refuses to tokens outside the Byteplus-Direct group"
    )

    def __init__(
        self, *, api_token: str, base_url: str, transport: Transport, **kwargs: Any
    ) -> None:
        if not api_token.strip():
            raise errors.AccountMisconfigured("the account has no API token")
        super().__init__(base_url=base_url, transport=transport, **kwargs)
        self._token = Secret(api_token.strip())

    def _secrets(self) -> tuple[str, ...]:
        return (self._token.reveal(),)

    def _defaults(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action not in _MODEL_ACTIONS or "model" in payload:
            return payload
        return {**payload, "model": MODELS.get(payload.get("AssetType", ""), DEFAULT_MODEL)}

    def _headers(self, content_type: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.reveal()}",
            "Content-Type": content_type,
            "Accept": "application/json",
        }

    def _prepare(self, action: str, body: dict[str, Any] | StreamBody) -> Prepared:
        url = f"{self.base_url}/volc/asset/{action}"
        if isinstance(body, StreamBody):
            return Prepared("POST", url, self._headers(body.content_type), body)
        data = json.dumps(
            self._defaults(action, body), separators=(",", ":"), ensure_ascii=False
        ).encode()
        return Prepared("POST", url, self._headers("application/json"), data)

    def _multipart(self, fields: dict[str, str], source: MultipartSource) -> StreamBody:
        # A public client saw multipart assets never turn Active while the same files by URL did
        # (CONTRACT.md §1): supported, but URL is the recommended transfer.
        return multipart(
            self._defaults("CreateAsset", fields),
            name="file",
            path=source.path,
            filename=source.filename,
            content_type=source.content_type,
        )

    def _interpret(self, action: str, response: HttpResponse) -> Answer:
        request_id = next(
            (response.headers[h] for h in REQUEST_ID_HEADERS if response.headers.get(h)), ""
        )
        try:
            payload: object = json.loads(response.body) if response.body.strip() else None
        except ValueError:
            payload = None
        if (
            200 <= response.status < 300
            and isinstance(payload, dict)
            and not _is_error_body(payload)
        ):
            return Answer(result=payload, request_id=request_id[:128])
        raise error_for_answer(
            action=action,
            status=response.status,
            content_type=response.headers.get("Content-Type", ""),
            body=response.body,
            detail=find_error(payload),
            request_id=request_id[:128],
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )


def _is_error_body(payload: dict[str, Any]) -> bool:
    """A 2xx that is really an error: the gateway's ``error`` object, or a body made only of
    ``code``/``message`` keys whose code isn't a success code. Results are PascalCase."""
    if isinstance(payload.get("error"), dict):
        return True
    keys = set(payload)
    if not keys or not keys <= _ERROR_ONLY_KEYS or not keys & {"message", "msg"}:
        return False
    if payload.get("success") is False:
        return True
    return str(payload.get("code", "")).lower() not in _SUCCESS_CODES

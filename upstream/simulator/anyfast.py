"""The Anyfast gateway: ``POST /volc/asset/<Action>`` with ``Authorization: Bearer <token>``.

Success bodies are the bare result. Errors use the three shapes of CONTRACT.md §1:

- gateway ``{"error": {"type", "code", "message"}}``: 401 bad or missing token, 413 body over the
  cap, 429 rate limit, injected ``error`` faults. The ``type``/``code`` values are invented.
- relayed ``{"code": <HTTP status>, "message": "<JSON text of the upstream error>", "data": null}``:
  every refusal by the upstream itself. The JSON text is the BytePlus error envelope
  (``{"ResponseMetadata": {..., "Error": {"Code", "Message"}}}``), or ``{"Code", "Message"}`` with
  the ``relayed_error_format`` switch set to ``bare``.
- plain ``{"code": <HTTP status>, "message": "<text>"}``: the gateway's own checks of the request:
  ``GroupType must be one of [AIGC]`` for a token outside the Byteplus-Direct group doing
  real-human work, unreadable bodies, unknown actions (in the gateway shape instead with the
  ``gateway_check_error_shape`` switch set to ``gateway``).
"""

import json
import mimetypes
from typing import Any

from python_multipart import FormParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, parse_options_header

from upstream.simulator import byteplus
from upstream.simulator.actions import ACTIONS, perform
from upstream.simulator.core import ApiError, Caller, Context, Upload
from upstream.simulator.store import token_id
from upstream.simulator.web import Handled, Reply, Request, json_reply

NAME = "anyfast"
PREFIX = "/volc/asset/"
REAL_HUMAN_GROUP = "Byteplus-Direct"
GROUP_TYPE_MESSAGE = "GroupType must be one of [AIGC]"
REAL_HUMAN_ACTIONS = frozenset({"CreateVisualValidateSession", "GetVisualValidateResult"})

_GATEWAY_KINDS = {
    401: ("authentication_error", "invalid_api_key"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


class BadRequest(Exception):
    pass


def action_of(request: Request) -> str:
    return request.path.removeprefix(PREFIX)


def identify(request: Request) -> str:
    """The credential id the request claims, unverified: for the request log only."""
    token = _bearer(request)
    return token_id(token) if token else ""


def gateway_error(
    ctx: Context, action: str, status: int, message: str, retry_after: float | None = None
) -> Reply:
    default = ("server_error", "upstream_unavailable") if status >= 500 else ("", "bad_request")
    kind, code = _GATEWAY_KINDS.get(status, default)
    headers = [] if retry_after is None else [("Retry-After", f"{retry_after:g}")]
    body = {"error": {"type": kind or "invalid_request_error", "code": code, "message": message}}
    return json_reply(status, body, headers)


def check_error(ctx: Context, action: str, status: int, message: str) -> Reply:
    """A refusal by the gateway's own checks, in the shape the ``gateway_check_error_shape``
    switch picks: plain ``{"code", "message"}`` (seen) or the gateway's ``{"error": …}``."""
    if ctx.store.switch("gateway_check_error_shape") == "gateway":
        return gateway_error(ctx, action, status, message)
    return json_reply(status, {"code": status, "message": message})


def relayed_error(ctx: Context, action: str, error: ApiError) -> Reply:
    if ctx.store.switch("relayed_error_format") == "bare":
        inner: dict[str, Any] = {"Code": error.code, "Message": error.message}
    else:
        inner = byteplus.envelope(ctx, action, error=error)
    return json_reply(
        error.status, {"code": error.status, "message": json.dumps(inner), "data": None}
    )


def _bearer(request: Request) -> str:
    scheme, _, token = request.header("Authorization").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _parse(request: Request) -> tuple[dict[str, Any], Upload | None]:
    content_type, options = parse_options_header(request.header("Content-Type"))
    if content_type == b"multipart/form-data":
        return _parse_multipart(request.body, options.get(b"boundary"))
    if not request.body.strip():
        return {}, None
    try:
        params = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise BadRequest("The request body must be a JSON object.")
    return params, None


def _parse_multipart(body: bytes, boundary: bytes | None) -> tuple[dict[str, Any], Upload | None]:
    if not boundary:
        raise BadRequest("The multipart body has no boundary.")
    fields: dict[str, Any] = {}
    files: list[Upload] = []

    def on_field(field: Field) -> None:
        fields[(field.field_name or b"").decode()] = (field.value or b"").decode()

    def on_file(file: File) -> None:
        if file.field_name != b"file":
            return
        name = (file.file_name or b"").decode()
        file.file_object.seek(0)
        guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append(Upload(file.file_object.read(), name, file.content_type or guessed))

    parser = FormParser(
        "multipart/form-data",
        on_field,
        on_file,
        boundary=boundary,
        config={"MAX_MEMORY_FILE_SIZE": float("inf")},
    )
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError:
        raise BadRequest("The multipart body could not be parsed.") from None
    return fields, (files[0] if files else None)


def _is_real_human(ctx: Context, action: str, params: dict[str, Any]) -> bool:
    """Whether a token outside Byteplus-Direct is refused this call. Sessions always are (doc);
    lists filtered on LivenessFace are, unless the ``wrong_group_liveness_lists`` switch says
    the upstream answers them."""
    if action in REAL_HUMAN_ACTIONS:
        return True
    if ctx.store.switch("wrong_group_liveness_lists") == "answered":
        return False
    wanted = params.get("Filter")
    return (
        action in ("ListAssets", "ListAssetGroups")
        and isinstance(wanted, dict)
        and wanted.get("GroupType") == "LivenessFace"
    )


def handle(ctx: Context, request: Request) -> Handled:
    action = action_of(request)
    token = _bearer(request)
    if not token:
        return Handled(gateway_error(ctx, action, 401, "Missing bearer token."))
    credential = ctx.store.credential(token_id(token))
    if credential is None or credential.kind != "token":
        return Handled(gateway_error(ctx, action, 401, "Invalid token."))
    if not ctx.limiter.allow(credential.id):
        reply = gateway_error(ctx, action, 429, "Rate limit exceeded.", retry_after=1)
        return Handled(reply)
    try:
        params, upload = _parse(request)
    except BadRequest as exc:
        return Handled(check_error(ctx, action, 400, str(exc)))
    model = params.pop("model", "")
    model = model if isinstance(model, str) else ""
    if action not in ACTIONS:
        return Handled(check_error(ctx, action, 404, f"Unknown action {action}."), model)
    if credential.token_group != REAL_HUMAN_GROUP and _is_real_human(ctx, action, params):
        return Handled(check_error(ctx, action, 400, GROUP_TYPE_MESSAGE), model)
    try:
        result = perform(ctx, Caller(credential.id, NAME), action, params, upload)
    except ApiError as error:
        return Handled(relayed_error(ctx, action, error), model)
    return Handled(json_reply(200, result), model)

"""BytePlus direct: ``POST /?Action=<Action>&Version=2024-01-01``, signed (see ``signing``).

Every answer is ``{"ResponseMetadata": {RequestId, Action, Version, Service, Region[, Error]}
[, "Result": {...}]}``. Authentication refusals (codes chosen here, shaped like the vendor's):

- 401 ``InvalidAuthorization``: Authorization header missing or malformed
- 401 ``InvalidCredential``: the credential scope is malformed
- 401 ``InvalidAccessKey``: unknown access key id
- 401 ``InvalidTimestamp``: X-Date missing, malformed or more than
  ``signature_max_skew_seconds`` (default 900) from the real clock
- 401 ``SignatureDoesNotMatch``: wrong signature, scope (region/service), scope date or
  signed-header list
- 403 ``AccessDenied``: a key registered with ``"denied": true`` (no IAM policy for the actions)
- 429 ``FlowLimitExceeded``: over the credential's rate limit
- 400 ``InvalidActionOrVersion``: Version is not 2024-01-01; 404 for an unknown Action
"""

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from upstream.simulator import signing
from upstream.simulator.actions import perform
from upstream.simulator.core import ApiError, Caller, Context
from upstream.simulator.store import Credential, keypair_id, stamp
from upstream.simulator.web import Handled, Reply, Request, json_reply

NAME = "byteplus"
VERSION = "2024-01-01"

_GATEWAY_CODES = {413: "RequestEntityTooLarge", 429: "FlowLimitExceeded", 503: "ServiceUnavailable"}


def action_of(request: Request) -> str:
    return request.query.get("Action", "")


def identify(request: Request) -> str:
    """The credential id the request claims, unverified: for the request log only."""
    try:
        return keypair_id(
            signing.parse_authorization(request.header("Authorization")).access_key_id
        )
    except signing.SignatureError:
        return ""


def envelope(
    ctx: Context,
    action: str,
    *,
    result: dict[str, Any] | None = None,
    error: ApiError | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "RequestId": stamp(ctx.store.now()) + secrets.token_hex(9).upper(),
        "Action": action,
        "Version": VERSION,
        "Service": signing.SERVICE,
        "Region": ctx.region,
    }
    if error is not None:
        metadata["Error"] = {"Code": error.code, "Message": error.message}
        return {"ResponseMetadata": metadata}
    return {"ResponseMetadata": metadata, "Result": result}


def error_reply(
    ctx: Context, action: str, error: ApiError, retry_after: float | None = None
) -> Reply:
    headers = [] if retry_after is None else [("Retry-After", f"{retry_after:g}")]
    return json_reply(error.status, envelope(ctx, action, error=error), headers)


def gateway_error(
    ctx: Context, action: str, status: int, message: str, retry_after: float | None = None
) -> Reply:
    default = "InternalError" if status >= 500 else "InvalidRequest"
    error = ApiError(status, _GATEWAY_CODES.get(status, default), message)
    return error_reply(ctx, action, error, retry_after)


def _authenticate(ctx: Context, request: Request) -> Credential:
    """The calling credential; raises ``ApiError`` when the request isn't properly signed."""
    try:
        auth = signing.parse_authorization(request.header("Authorization"))
        credential = ctx.store.credential(keypair_id(auth.access_key_id))
        if credential is None or credential.kind != "keypair":
            raise signing.SignatureError(
                "InvalidAccessKey", "The access key id you provided does not exist."
            )
        signing.verify(
            auth=auth,
            secret_access_key=credential.secret_access_key,
            region=ctx.region,
            method=request.method,
            path=request.path,
            query=request.raw_query,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=request.body,
            now=datetime.now(UTC),
            max_skew_seconds=ctx.store.switch("signature_max_skew_seconds"),
        )
    except signing.SignatureError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return credential


def _params(request: Request) -> dict[str, Any]:
    try:
        params = json.loads(request.body) if request.body.strip() else {}
    except (UnicodeDecodeError, ValueError):
        params = None
    if not isinstance(params, dict):
        raise ApiError(400, "InvalidParameter", "The request body must be a JSON object.")
    return params


def handle(ctx: Context, request: Request) -> Handled:
    action = action_of(request)
    try:
        credential = _authenticate(ctx, request)
    except ApiError as error:
        return Handled(error_reply(ctx, action, error))
    if not ctx.limiter.allow(credential.id):
        reply = gateway_error(ctx, action, 429, "Request rate limit exceeded.", retry_after=1)
        return Handled(reply)
    try:
        if credential.denied:
            raise ApiError(403, "AccessDenied", f"User is not authorized to perform: ark:{action}.")
        if request.query.get("Version") != VERSION:
            raise ApiError(400, "InvalidActionOrVersion", f"Version must be {VERSION}.")
        result = perform(ctx, Caller(credential.id, NAME), action, _params(request))
    except ApiError as error:
        return Handled(error_reply(ctx, action, error))
    return Handled(json_reply(200, envelope(ctx, action, result=result)))

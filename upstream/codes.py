"""Turning what the upstream said into one of our error classes, and explaining asset error codes.

Anyfast answers errors in three shapes (CONTRACT.md §1): its own
``{"error": {type, code, message}}``; ``{"code", "message": "<JSON text of the upstream error>",
"data": null}`` when relaying BytePlus (the useful code is inside the nested text); and
``{"code", "message": "<text>"}``.
BytePlus wraps errors in ``{"ResponseMetadata": {..., "Error": {"Code", "Message"}}}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from upstream import errors as e

MAX_MESSAGE_CHARS = 2000
_MAX_NESTING = 4


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    request_id: str = ""


# --- Finding the error in a body --------------------------------------------------------------


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _nested_json(message: str) -> object | None:
    """The JSON object inside a relayed message, which may carry a prefix such as "upstream: "."""
    start, end = message.find("{"), message.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return json.loads(message[start : end + 1])
    except ValueError:
        return None


def find_error(payload: object, *, depth: int = 0) -> ErrorDetail | None:
    """The innermost error an error body describes, or None if it describes none.

    A top-level capitalised ``Error`` is read only inside relayed text: in a successful GetAsset
    result the same key is the asset's own failure, not the request's.
    """
    if not isinstance(payload, dict) or depth > _MAX_NESTING:
        return None
    meta = payload.get("ResponseMetadata")
    if isinstance(meta, dict) and isinstance(meta.get("Error"), dict):
        err = meta["Error"]
        return ErrorDetail(
            code=_text(err.get("Code") or err.get("CodeN")),
            message=_text(err.get("Message")),
            request_id=_text(meta.get("RequestId")),
        )
    outer: ErrorDetail | None = None
    if isinstance(payload.get("error"), dict):
        err = payload["error"]
        outer = ErrorDetail(code=_text(err.get("code")), message=_text(err.get("message")))
    elif depth > 0 and isinstance(payload.get("Error"), dict):
        err = payload["Error"]
        outer = ErrorDetail(code=_text(err.get("Code")), message=_text(err.get("Message")))
    elif depth > 0 and ("Code" in payload or "Message" in payload):
        outer = ErrorDetail(code=_text(payload.get("Code")), message=_text(payload.get("Message")))
    elif "message" in payload or "msg" in payload:
        outer = ErrorDetail(
            code=_text(payload.get("code")),
            message=_text(payload.get("message", payload.get("msg"))),
        )
    if outer is None:
        return None
    inner = (
        find_error(_nested_json(outer.message), depth=depth + 1) if "{" in outer.message else None
    )
    if inner is not None and (inner.code or inner.message):
        return inner
    return outer


# --- Classifying ------------------------------------------------------------------------------

# Messages that identify the error whatever code accompanies it.
_MESSAGE_FIRST: tuple[tuple[re.Pattern[str], type[e.UpstreamError]], ...] = (
    (re.compile(r"GroupType must be one of \[AIGC\]", re.I), e.WrongTokenGroup),
    (
        re.compile(r"CallbackURL\b.*\b(missing|required)|required parameter CallbackURL", re.I),
        e.MissingCallbackUrl,
    ),
)

# Substrings of the normalised code (lower case, no "_" or "-"), first match wins.
_CODE_RULES: tuple[tuple[str, type[e.UpstreamError]], ...] = (
    ("facemismatch", e.FaceMismatch),
    ("pixelcounttoosmall", e.PixelCountTooSmall),
    ("downloadfailed", e.DownloadFailed),
    ("sensitivecontent", e.ContentPolicyViolation),
    ("policyviolation", e.ContentPolicyViolation),
    ("duplicatename", e.DuplicateName),
    ("bytedtoken", e.VerificationExpired),
    ("requesttoolarge", e.SourceTooLarge),
    ("entitytoolarge", e.SourceTooLarge),
    ("notfound.group", e.GroupNotFound),
    ("notfound.asset", e.AssetNotFound),
    ("accessdenied", e.AccessDenied),
    ("signaturedoesnotmatch", e.SignatureRejected),
    ("invalidauthorization", e.SignatureRejected),
    ("invalidaccesskey", e.SignatureRejected),
    ("invalidcredential", e.SignatureRejected),
    ("missingauthentication", e.SignatureRejected),
    ("requestexpired", e.SignatureRejected),
    ("invalidtimestamp", e.SignatureRejected),
    ("throttl", e.RateLimited),
    ("toomanyrequests", e.RateLimited),
    ("ratelimit", e.RateLimited),
    ("limitexceeded", e.RateLimited),
    ("internalerror", e.UpstreamUnavailable),
    ("internalservice", e.UpstreamUnavailable),
    ("serviceunavailable", e.UpstreamUnavailable),
    ("timeout", e.UpstreamUnavailable),
)

_MESSAGE_LAST: tuple[tuple[re.Pattern[str], type[e.UpstreamError]], ...] = (
    (re.compile(r"\bgroup\b.*\bnot (be )?found", re.I), e.GroupNotFound),
    (re.compile(r"\basset\b.*\bnot (be )?found", re.I), e.AssetNotFound),
    (re.compile(r"face ?mismatch", re.I), e.FaceMismatch),
)


def _normalise(code: str) -> str:
    return code.lower().replace("_", "").replace("-", "")


def _by_code(code: str) -> type[e.UpstreamError] | None:
    norm = _normalise(code)
    for needle, cls in _CODE_RULES:
        if needle in norm:
            return cls
    return None


def _by_content(code: str, message: str) -> type[e.UpstreamError] | None:
    for pattern, cls in _MESSAGE_FIRST:
        if pattern.search(message) or pattern.search(code):
            return cls
    if by_code := _by_code(code):
        return by_code
    for pattern, cls in _MESSAGE_LAST:
        if pattern.search(message):
            return cls
    return None


def _by_status(status: int | None, action: str) -> type[e.UpstreamError]:
    if status == 401:
        return e.InvalidCredentials
    if status == 403:
        return e.UpstreamAuthError
    if status == 404:
        # A JSON 404 from a known endpoint: the thing named in the request doesn't exist for us.
        if action.endswith("AssetGroup"):
            return e.GroupNotFound
        if action in ("GetAsset", "DeleteAsset"):
            return e.AssetNotFound
        return e.UpstreamRejected
    if status == 413:
        return e.SourceTooLarge
    if status == 429:
        return e.RateLimited
    if status is not None and status >= 500:
        return e.UpstreamUnavailable
    return e.UpstreamRejected


def build_error(
    *,
    status: int | None,
    detail: ErrorDetail,
    action: str,
    request_id: str = "",
    retry_after: float | None = None,
    classify_as: int | None = None,
) -> e.UpstreamError:
    """The error object for an error answer. Known codes and messages win over the HTTP status
    (or ``classify_as``, when the body knows better): a relayed 500 that says
    ``InvalidParameter.DownloadFailed`` is still the file's fault."""
    class_status = status if classify_as is None else classify_as
    known = _by_content(detail.code, detail.message)
    cls = known or _by_status(class_status, action)
    code = detail.code
    named = known.default_code if known is not None else ""
    if named and not named.startswith("Local.") and _by_code(code) is None:
        # The message told what it is; the code didn't (the plain shape's code is the HTTP
        # status, kept in http_status; the gateway's is a word like "bad_request"). The known
        # message names it: "GroupType must be one of [AIGC]" is WrongTokenGroup.
        code = named
    error = cls(
        detail.message[:MAX_MESSAGE_CHARS],
        code=code[:128],
        http_status=status,
        action=action,
        request_id=(detail.request_id or request_id)[:128],
    )
    if isinstance(error, e.UpstreamUnavailable):
        error.retry_after = retry_after
        # A rate limit turns the request away before any work is done.
        error.maybe_processed = not isinstance(error, e.RateLimited)
    return error


def explain(code: str) -> tuple[str, str]:
    """(explanation, fix) in plain words for an asset's ``Error.Code`` such as ``FaceMismatch``."""
    cls = _by_content(code, "")
    if cls is None:
        return (
            f"The upstream reported the error “{code}”."
            if code
            else "The upstream reported an error.",
            "Try a different file; if it keeps happening, tell the studio staff.",
        )
    return cls.default_explanation, cls.default_fix


# --- Headers ----------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- Answers that carry no usable error object ---------------------------------------------------

_TAGS = re.compile(r"<[^>]*>")


def _snippet(body: bytes) -> str:
    text = _TAGS.sub(" ", body[:2000].decode("utf-8", "replace"))
    return " ".join(text.split())[:200]


def error_for_answer(
    *,
    action: str,
    status: int,
    content_type: str,
    body: bytes,
    detail: ErrorDetail | None,
    request_id: str = "",
    retry_after: float | None = None,
) -> e.UpstreamError:
    """The error for any answer that isn't a usable success, with or without an error object."""
    if detail is not None:
        classify_as = None
        # A 2xx carrying an error object: its own numeric code is the better status.
        if 200 <= status < 300 and detail.code.isdigit() and 400 <= int(detail.code) < 600:
            classify_as = int(detail.code)
        return build_error(
            status=status,
            detail=detail,
            action=action,
            request_id=request_id,
            retry_after=retry_after,
            classify_as=classify_as,
        )
    kind = (content_type.split(";")[0].strip() or "no content type") if body else "an empty body"
    if 300 <= status < 400:
        message = f"the base URL redirects elsewhere (HTTP {status}); use the final address"
        return e.AccountMisconfigured(
            message, action=action, http_status=status, request_id=request_id
        )
    if status in (404, 405):
        # A JSON 404 names a missing asset or group; a bare one means there is no API here.
        message = f"no upstream API at this address ({kind}); check the base URL"
        return e.AccountMisconfigured(
            message, action=action, http_status=status, request_id=request_id
        )
    if 200 <= status < 300:
        message = f"a success answer the portal can't read ({kind})"
        return e.UnexpectedResponse(
            message, action=action, http_status=status, request_id=request_id
        )
    snippet = _snippet(body)
    message = f"an answer without an error object ({kind})" + (f": {snippet}" if snippet else "")
    return build_error(
        status=status,
        detail=ErrorDetail(code="", message=message),
        action=action,
        request_id=request_id,
        retry_after=retry_after,
    )

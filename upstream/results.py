"""Reading success bodies into our dataclasses. A body without what the contract promises raises
``UnexpectedResponse`` (through ``Malformed``, which the client converts with context)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from upstream.types import (
    AssetInfo,
    AssetPage,
    AssetStatus,
    GroupInfo,
    GroupPage,
    VerificationResult,
    VerificationStart,
)

logger = logging.getLogger(__name__)


class Malformed(ValueError):
    """A success body that lacks or garbles a promised field."""


def _required_text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"the answer has no {key}")
    return value


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    raise Malformed(f"the answer's {key} is not text")


def parse_time(value: object) -> datetime | None:
    """Upstream times: epoch seconds or milliseconds, or ISO 8601 text; naive means UTC.
    Unreadable values become None (times are informative, never decisions)."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
            number = float(value)
            return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    logger.warning("upstream time %r is unreadable", value)
    return None


def verification_start(body: dict[str, Any], *, callback_url: str) -> VerificationStart:
    h5_link = _required_text(body, "H5Link")
    # We send people's phones to this link: only ever a web address.
    if urlsplit(h5_link).scheme not in ("https", "http"):
        raise Malformed("the answer's H5Link is not a web address")
    return VerificationStart(
        byted_token=_required_text(body, "BytedToken"),
        h5_link=h5_link,
        callback_url=_text(body, "CallbackURL") or callback_url,
    )


def verification_result(body: dict[str, Any], *, byted_token: str) -> VerificationResult:
    # A missing GroupId reads as "not finished": the upstream may leave empty fields out.
    return VerificationResult(byted_token=byted_token, group_id=_text(body, "GroupId"))


def asset_id(body: dict[str, Any]) -> str:
    return _required_text(body, "Id")


def asset_info(body: object) -> AssetInfo:
    if not isinstance(body, dict):
        raise Malformed("an asset in the answer is not an object")
    error = body.get("Error")
    error = error if isinstance(error, dict) else {}
    return AssetInfo(
        id=_required_text(body, "Id"),
        name=_text(body, "Name"),
        group_id=_text(body, "GroupId"),
        asset_type=_text(body, "AssetType"),
        status=AssetStatus.parse(body.get("Status")),
        error_code=_text(error, "Code"),
        error_message=_text(error, "Message"),
        create_time=parse_time(body.get("CreateTime")),
        update_time=parse_time(body.get("UpdateTime")),
    )


def group_info(body: object) -> GroupInfo:
    if not isinstance(body, dict):
        raise Malformed("a group in the answer is not an object")
    return GroupInfo(
        id=_required_text(body, "Id"),
        name=_text(body, "Name"),
        group_type=_text(body, "GroupType"),
        project_name=_text(body, "ProjectName"),
        create_time=parse_time(body.get("CreateTime")),
        update_time=parse_time(body.get("UpdateTime")),
    )


def _paging(
    body: dict[str, Any], *, page_number: int, page_size: int
) -> tuple[list[Any], int, int, int]:
    if "Items" not in body and "TotalCount" not in body:
        raise Malformed("the answer is not a page of results")
    items = body.get("Items") or []
    if not isinstance(items, list):
        raise Malformed("the answer's Items is not a list")

    def _int(key: str, default: int) -> int:
        value = body.get(key)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise Malformed(f"the answer's {key} is not a number") from None

    return (
        items,
        _int("PageNumber", page_number),
        _int("PageSize", page_size),
        _int("TotalCount", len(items)),
    )


def asset_page(body: dict[str, Any], *, page_number: int, page_size: int) -> AssetPage:
    items, number, size, total = _paging(body, page_number=page_number, page_size=page_size)
    return AssetPage(tuple(asset_info(i) for i in items), number, size, total)


def group_page(body: dict[str, Any], *, page_number: int, page_size: int) -> GroupPage:
    items, number, size, total = _paging(body, page_number=page_number, page_size=page_size)
    return GroupPage(tuple(group_info(i) for i in items), number, size, total)

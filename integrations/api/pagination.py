"""Cursor pagination: newest first, `next_cursor` names where the next page starts."""

import base64
from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Model, QuerySet

from integrations.api.errors import ApiError

MAX_LIMIT = 100


def _encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, pk = text.split(":", 1)
        if version != "v1" or not pk.isdigit() or len(pk) > 18:
            raise ValueError(cursor)
        return int(pk)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(
            400, "invalid_cursor", "This cursor is not one the API gave out.", "cursor"
        ) from error


def page[M: Model](
    queryset: "QuerySet[M]",
    *,
    cursor: str | None,
    limit: int,
    render: Callable[[M], Any],
) -> dict[str, Any]:
    if cursor:
        queryset = queryset.filter(pk__lt=_decode(cursor))
    rows: Sequence[M] = list(queryset.order_by("-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": [render(row) for row in rows],
        "next_cursor": _encode(rows[-1].pk) if more and rows else None,
    }

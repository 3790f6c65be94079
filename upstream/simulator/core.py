"""Types and parameter helpers shared by the actions and the adapters."""

import threading
from dataclasses import dataclass
from typing import Any

from upstream.simulator.faults import RateLimiter
from upstream.simulator.store import Store


class ApiError(Exception):
    """An upstream error: HTTP status, the upstream ``Code`` and ``Message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def missing(field: str) -> ApiError:
    # The message format was seen live for CallbackURL; the code is our choice.
    return ApiError(
        400, "MissingParameter", f"[***.{field}] The required parameter {field} is missing."
    )


def invalid(message: str, code: str = "InvalidParameter") -> ApiError:
    return ApiError(400, code, message)


@dataclass(frozen=True)
class Caller:
    """Who is calling: ``owner`` is the credential id that owns everything it creates."""

    owner: str
    adapter: str  # "anyfast" | "byteplus"


@dataclass(frozen=True)
class Upload:
    """A file sent as a multipart part (Anyfast ``CreateAsset`` only)."""

    data: bytes
    filename: str
    content_type: str


@dataclass(frozen=True)
class Context:
    """The running simulator, as handlers see it."""

    store: Store
    public_url: str
    region: str
    limiter: RateLimiter
    stopping: threading.Event  # set on shutdown; long waits (hang faults) watch it


def text_param(params: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return ""
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string.")
    return value


def page_params(params: dict[str, Any]) -> tuple[int, int]:
    """``PageNumber`` (1-based, default 1) and ``PageSize`` (default 10, 1..100)."""
    number, size = params.get("PageNumber", 1), params.get("PageSize", 10)
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    if isinstance(size, str) and size.isdigit():
        size = int(size)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise invalid("PageNumber must be an integer of at least 1.")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100:
        raise invalid("PageSize must be an integer between 1 and 100.")
    return number, size


def paged(items: list[Any], number: int, size: int) -> dict[str, Any]:
    start = (number - 1) * size
    return {
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": len(items),
        "Items": items[start : start + size],
    }

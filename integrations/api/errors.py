"""The API's one error shape: `{"error": {"code", "message", "field"}}` with stable codes."""

from ninja import Schema


class ErrorBody(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Schema):
    error: ErrorBody


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


def not_found(kind: str) -> ApiError:
    return ApiError(404, "not_found", f"No {kind} with that id.", None)


# Every operation may answer these; listed in the schema so every answer is in it.
ERROR_CODES = frozenset({400, 401, 403, 404, 409, 413, 422, 429, 503})

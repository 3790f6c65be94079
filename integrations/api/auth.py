"""`Authorization: Bearer <key>`: which key, its scope, its rate limit. Keys never reach a log:
the header is read here and nowhere else, and errors never repeat it."""

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from assets.uploads import HashingUploadHandler, SizeLimitHandler
from integrations import keys
from integrations.api.errors import ApiError
from integrations.models import ApiKey

# Multipart overhead allowed above the largest file: boundaries and the form fields.
MULTIPART_SLACK = 64 * 1024


class KeyAuth(HttpBearer):
    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiError(
                401, "unauthenticated", "Send the API key as 'Authorization: Bearer <key>'."
            )
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = keys.find_key(token)
        if key is None:
            raise ApiError(401, "unauthenticated", "This API key is unknown or was revoked.")
        if keys.over_rate_limit(key):
            raise ApiError(
                429,
                "rate_limited",
                f"This key may make {key.rate_limit_per_minute} requests a minute; wait a moment.",
            )
        if not key.has_scope(self.scope):
            raise ApiError(
                403, "scope_missing", f"This API key lacks the '{self.scope}' scope.", None
            )
        return key


class UploadAuth(KeyAuth):
    """Decides the key and the size from the headers alone, then installs the streaming size guard
    and the hashing spool, all before anything reads the body (as the upload pages do)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = super().authenticate(request, token)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.ASSET_UPLOAD_MAX_BYTES + MULTIPART_SLACK:
            raise ApiError(
                413,
                "too_large",
                f"The file is too large: uploads stop at {settings.ASSET_UPLOAD_MAX_BYTES / 1_000_000:.0f} MB.",
                "file",
            )
        request.upload_handlers = [SizeLimitHandler(request), HashingUploadHandler(request)]
        return key


def api_key(request: HttpRequest) -> ApiKey:
    key = getattr(request, "auth", None)
    assert isinstance(key, ApiKey)
    return key

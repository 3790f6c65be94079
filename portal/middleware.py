"""Request-wide rules: forwarded headers only from the trusted proxy, and no page in a cache."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from portal.clients import from_trusted_proxy

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


class ForwardedHeadersMiddleware:
    """A client that reaches the web process directly (not through the proxy) could claim any
    address or scheme in X-Forwarded-* headers: they are dropped unless the peer is the proxy, so
    the client address (`portal.clients.client_ip`, used for limits, lockouts, logs and consent
    evidence) and `request.is_secure()` can't be forged that way."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not from_trusted_proxy(request.META):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)


class BodySizeMiddleware:
    """Only the upload endpoints take files; every other request body is a form of a few
    kilobytes. One that declares more than `DATA_UPLOAD_MAX_MEMORY_SIZE` is refused before it is
    read: without this, the CSRF check on any POST (the sign-in page, a person's consent) would
    parse and spool a multipart body of any size first. Placed before the CSRF middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if getattr(view, "upload_endpoint", False):
            return None  # assets.uploads checks the sender and the size before reading
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads nothing of a body whose length it can't parse
        if declared > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return HttpResponse(
                "This request is too large for this page.",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return None


class NoStoreMiddleware:
    """Pages are private: every response that doesn't set its own caching (static files do) is
    marked never to be stored, staff pages as well as the person's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response

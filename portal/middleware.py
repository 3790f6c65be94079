"""Request-wide rules: forwarded headers only from the trusted proxy, and no page in a cache."""

from collections.abc import Callable

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

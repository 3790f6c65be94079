"""`/api/v1/` URLs: the Ninja views, each behind the idempotency wrapper, and a JSON 404."""

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, include, path

from integrations.api.idempotency import idempotent
from integrations.api.main import api, docs

patterns, _app, _namespace = api.urls
for pattern in patterns:
    if isinstance(pattern, URLPattern):
        pattern.callback = idempotent(pattern.callback)


def unknown(request: HttpRequest, rest: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "not_found", "message": "No such API path.", "field": None}}, status=404
    )


urlpatterns = [
    path("", include((patterns, _app), namespace=_namespace)),
    path("docs", docs, name="api-docs"),
    path("<path:rest>", unknown, name="api-unknown"),
]

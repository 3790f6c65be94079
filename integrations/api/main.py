"""The NinjaAPI object: routers, the one error shape, and the staff-only docs page."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.views import openapi_view

from integrations.api import media, people, usage
from integrations.api.errors import ApiError

api = NinjaAPI(
    title="Sitter API",
    version="1",
    description="Consent, verification, assets and usage clearance. Errors have one shape: "
    '`{"error": {"code", "message", "field"}}`. Every POST honours `Idempotency-Key`.',
    urls_namespace="api-v1",
    # The schema is public (it documents, it grants nothing); the browsable page is for staff.
    docs_url=None,
    openapi_url="/openapi.json",
)
api.add_router("", people.router)
api.add_router("", media.router)
api.add_router("", usage.router)


@staff_member_required
def docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI over the schema, from the files Django Ninja ships (no CDN)."""
    return openapi_view(request, api=api)


def _error(request: HttpRequest, error: ApiError) -> HttpResponse:
    response = api.create_response(request, error.body(), status=error.status)
    if error.status == 429:
        response["Retry-After"] = "60"
    return response


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
    return _error(request, error)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    first = error.errors[0] if error.errors else {}
    location = [
        str(part)
        for part in first.get("loc", ())
        if part not in ("body", "query", "path", "form", "file")
    ]
    field = (
        ".".join(
            location[1:]
            if len(location) > 1 and location[0] in ("body", "filters", "paging", "payload")
            else location
        )
        or None
    )
    message = str(first.get("msg", "The request is not valid."))
    return _error(request, ApiError(422, "invalid", message, field))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return _error(
        request,
        ApiError(401, "unauthenticated", "Send the API key as 'Authorization: Bearer <key>'."),
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return _error(request, ApiError(404, "not_found", "Nothing here."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return _error(request, ApiError(error.status_code, "bad_request", str(error)))

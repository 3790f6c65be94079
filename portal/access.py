from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails


class StaffRequest(HttpRequest):
    """What a staff view receives: a signed-in user, and htmx details from the middleware."""

    user: User
    htmx: HtmxDetails


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and a member of the studio's staff.

    On upload views this runs before the body is read (`assets.uploads.upload_endpoint` wraps it):
    a check here may look at the user, the URL and the headers, never at `request.POST`."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def staff_permission_required(
    *permissions: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Staff, and holding every one of `permissions` (through their role, see `portal.roles`).

    Anonymous visitors go to the sign-in page; a signed-in account without them gets the 403
    page, which says which role they lack. The check runs before the view reads the request body.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_staff or not request.user.has_perms(permissions):
                raise PermissionDenied(MISSING_PERMISSION)
            return view(request, *args, **kwargs)

        wrapper.required_permissions = permissions  # type: ignore[attr-defined]
        return wrapper

    return decorator


MISSING_PERMISSION = "missing-permission"

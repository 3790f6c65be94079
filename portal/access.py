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

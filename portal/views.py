import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.defaults import server_error as django_server_error

from portal import health
from portal.access import StaffRequest, staff_permission_required
from verification import retention
from verification.models import StaffNotice, VerificationSession

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Each dependency with a verdict; 503 when a critical one (database, broker) fails."""
    results: dict[str, dict[str, object]] = {}
    critical_failed = advisory_failed = False
    for group, checks in (("critical", health.CRITICAL), ("advisory", health.ADVISORY)):
        for name, check in checks.items():
            try:
                ok, detail = check()
            except Exception as error:
                # A readiness probe reports a failure instead of raising it.
                logger.warning("readiness check %s failed: %s", name, type(error).__name__)
                ok, detail = False, type(error).__name__
            results[name] = {"ok": ok, "detail": detail}
            if not ok:
                critical_failed |= group == "critical"
                advisory_failed |= group == "advisory"
    status = "fail" if critical_failed else "degraded" if advisory_failed else "ok"
    return JsonResponse(
        {"status": status, "checks": results}, status=503 if critical_failed else 200
    )


@staff_permission_required("verification.view_verificationsession")
def dashboard(request: StaffRequest) -> HttpResponse:
    notices = list(StaffNotice.objects.filter(user=request.user, seen_at__isnull=True)[:20])
    open_sessions = VerificationSession.objects.open().select_related("person", "project")[:50]
    now = timezone.now()
    response = render(
        request,
        "portal/dashboard.html",
        {
            "notices": notices,
            "open_sessions": open_sessions,
            "retention_due": retention.upcoming(now=now)[:50],
            "now": now,
        },
    )
    # Shown once: the next visit starts clean.
    StaffNotice.objects.filter(pk__in=[notice.pk for notice in notices]).update(
        seen_at=timezone.now()
    )
    return response


@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Pages without an icon link (the admin's) make browsers ask for /favicon.ico."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page, except while the database cannot be reached (restarting, failing over,
    a lock or statement timeout): then a 503 asking to try again shortly, which is all a person
    can do. Rendered without the request, as the 500 page is: nothing here may need the database.
    """
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = "30"
        return response
    return django_server_error(request)

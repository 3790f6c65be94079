"""Development only: what the portal "sent", with the links, for staff to open."""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.access import StaffRequest, staff_permission_required
from verification.outbox import sent_messages


@staff_permission_required("verification.send_link")  # it lists live links
@require_GET
def outbox(request: StaffRequest) -> HttpResponse:
    if not settings.DEBUG:
        raise Http404("The outbox exists only in development (DEBUG).")
    response = render(request, "verification/outbox.html", {"sent": sent_messages()})
    response["Cache-Control"] = "no-store"  # it lists live links
    return response

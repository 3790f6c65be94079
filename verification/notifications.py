"""Telling the staff member who started a session how it ended: on their dashboard and by email."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from verification.models import StaffNotice, VerificationSession

logger = logging.getLogger(__name__)


def notify_outcome(*, session_id: int) -> None:
    session = VerificationSession.objects.select_related("person", "created_by").get(pk=session_id)
    user = session.created_by
    if user is None:
        return
    if session.status == VerificationSession.Status.VERIFIED:
        text = f"{session.person.full_name} is verified (group {session.upstream_group_id})."
    else:
        text = (
            f"Verification of {session.person.full_name}: {session.get_status_display().lower()}."
        )
    StaffNotice.objects.create(user=user, session=session, text=text)
    if not user.email:
        return
    url = settings.PUBLIC_BASE_URL + reverse("staff:session", args=[session.pk])
    try:
        send_mail(
            subject=f"[Sitter] {text}",
            message=f"{text}\n\n{url}\n",
            from_email=None,
            recipient_list=[user.email],
        )
    except (smtplib.SMTPException, OSError) as error:
        # The dashboard notice stands; a lost staff email is logged, not retried.
        logger.warning("could not email %s about session %s: %s", user.pk, session.pk, error)

"""Sending invitations by email or SMS, in the person's language."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from verification import sms
from verification.models import Invitation, VerificationSession


class DeliveryError(Exception):
    """The message could not be sent; the text is shown to staff."""


def send_invitation(*, invitation: Invitation, link: str) -> None:
    session = invitation.session
    context = {
        "person": session.person,
        "project": session.project,
        "link": link,
        "expires_at": invitation.expires_at,
        "studio": settings.STUDIO_NAME,
    }
    with translation.override(session.person.language):
        if invitation.channel == VerificationSession.Channel.EMAIL:
            _send_email(invitation.recipient, "verification/email/invitation", context)
        else:
            body = render_to_string("verification/sms/invitation.txt", context).strip()
            try:
                sms.backend().send(sms.Sms(to=invitation.recipient, body=body))
            except sms.SmsError as error:
                raise DeliveryError(str(error)) from error


def _send_email(to: str, template: str, context: dict[str, object]) -> None:
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        to=[to],
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"The mail server did not accept the message ({error}).") from error


def send_consent_code(*, session: VerificationSession, channel: str, code: str) -> None:
    """The one-time code that binds a consent on a reused group to the person. Sent to the
    address on file, never to one typed on the page; the code is in no log line of ours."""
    person = session.person
    context = {
        "person": person,
        "project": session.project,
        "code": code,
        "minutes": int(settings.CONSENT_CODE_TTL.total_seconds() // 60),
        "studio": settings.STUDIO_NAME,
    }
    with translation.override(person.language):
        if channel == VerificationSession.Channel.EMAIL:
            subject = " ".join(
                render_to_string("verification/email/consent_code_subject.txt", context).split()
            )
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string("verification/email/consent_code.txt", context),
                to=[person.email],
            )
            try:
                message.send()
            except (smtplib.SMTPException, OSError) as error:
                raise DeliveryError(
                    f"The mail server did not accept the message ({error})."
                ) from error
        else:
            body = render_to_string("verification/sms/consent_code.txt", context).strip()
            try:
                sms.backend().send(sms.Sms(to=person.phone, body=body))
            except sms.SmsError as error:
                raise DeliveryError(str(error)) from error

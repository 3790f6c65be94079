"""Steps of the verification journey that tests share: deliver, read the link, consent, call back."""

import re
from urllib.parse import urlsplit

from django.core import mail
from django.test import Client, RequestFactory
from django.utils import timezone

from assets.models import AssetGroup
from upstream.factory import client_for
from verification import services
from verification.models import Invitation, LivenessAttempt, VerificationSession

LINK = re.compile(r"https?://[^/\s]+(/p/[A-Za-z0-9_-]+/)")
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"


def run_pending_invitations() -> None:
    """What a worker does with the queued invitation tasks."""
    for invitation in Invitation.objects.filter(status=Invitation.Status.PENDING):
        services.deliver_invitation(invitation_id=invitation.pk)


def link_in_last_message() -> str:
    match = LINK.search(str(mail.outbox[-1].body))
    assert match, mail.outbox[-1].body
    return match.group(1)


def code_in_last_message() -> str:
    """The one-time code of the newest message (sent to the person's own address)."""
    match = re.search(r"^\s+(\d{6})$", str(mail.outbox[-1].body), re.MULTILINE)
    assert match, mail.outbox[-1].body
    return match.group(1)


def consent_and_start(phone: Client, link: str, name: str = "Jane Doe") -> str:
    """The person consents; returns the H5 link the phone was sent to."""
    response = phone.post(f"{link}consent/", {"signature_name": name, "agree": "on"})
    assert response.status_code == 302, response.content.decode()
    return response["Location"]


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def latest_attempt(session: VerificationSession) -> LivenessAttempt:
    return session.attempts.order_by("-created_at")[0]


def make_verified_group(
    person, account, project, consent_text, staff_user, simulator
) -> AssetGroup:
    """A person who consented to all three kinds and passed liveness at the simulator."""
    session = services.start_session(
        person=person,
        account_id=account.pk,
        project=project,
        consent_text=consent_text,
        media_kinds=["image", "video", "audio"],
        channel="in_person",
        user=staff_user,
    )
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="pytest")
    services.give_consent(session=session, signature_name=person.full_name, request=request)
    started = client_for(account).start_verification(callback_url="http://127.0.0.1:1/callback")
    simulator.complete(started.byted_token)
    group_id = client_for(account).get_verification_result(byted_token=started.byted_token).group_id
    session.move(
        VerificationSession.Status.CONSENTED,
        VerificationSession.Status.VERIFIED,
        upstream_group_id=group_id,
        completed_at=timezone.now(),
    )
    return AssetGroup.objects.create(
        upstream_id=group_id, person=person, account=account, session=session
    )

"""Run by the process-level chaos test in the portal's own environment (its database, its secrets).

    python -m tests.chaos.portal_state seed SIMULATOR_URL TOKEN PERSONS
        A staff member (and a signed-in session cookie for them), an upstream account pointing at
        the simulator, a project, a consent text and PERSONS people with email addresses.
    python -m tests.chaos.portal_state snapshot
        What the invariants are checked against.

Each prints one JSON object.
"""

import json
import sys
from collections import Counter
from typing import Any


def seed(simulator_url: str, token: str, persons: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from upstream.models import Adapter, UpstreamAccount
    from verification.models import AuthorizingPerson, ConsentText, Project

    staff = get_user_model().objects.create_user(
        username="chaos-staff", email="staff@example.com", is_staff=True
    )
    staff.groups.set(Group.objects.filter(name="coordinator"))
    login = Client()
    login.force_login(staff)
    account = UpstreamAccount.objects.create(
        name="Simulated upstream", adapter=Adapter.ANYFAST, base_url=simulator_url, api_token=token
    )
    project = Project.objects.create(
        name="Chaos campaign", intended_use="Short video ads, shown online for 12 months."
    )
    text = ConsentText.objects.create(
        title="Consent to the use of my likeness",
        version="1",
        body="I agree that the studio may use my face, video and voice for the project described.",
    )
    people = [
        AuthorizingPerson.objects.create(
            full_name=f"Chaos Person {number}", email=f"p{number}@example.com", created_by=staff
        )
        for number in range(persons)
    ]
    return {
        "sessionid": login.cookies["sessionid"].value,
        "account": account.pk,
        "project": project.pk,
        "consent_text": text.pk,
        "persons": {person.full_name: person.pk for person in people},
    }


def snapshot() -> dict[str, Any]:
    from assets.models import Asset, AssetGroup
    from ledger.models import AuditEvent
    from verification.models import Consent, Invitation, LivenessAttempt, VerificationSession

    groups = {group.session_id: group.pk for group in AssetGroup.objects.all()}
    return {
        "sessions": [
            {
                "id": session.pk,
                "person": session.person.full_name,
                "channel": session.channel,
                "status": session.status,
                "group": groups.get(session.pk),
            }
            for session in VerificationSession.objects.select_related("person").order_by("pk")
        ],
        "consents": Consent.objects.count(),
        "consent_events": AuditEvent.objects.filter(action="consent.given").count(),
        "assets": [
            {
                "id": asset.pk,
                "group": asset.group_id,
                "original_name": asset.original_name,
                "upstream_name": asset.upstream_name,
                "status": asset.status,
                "error_message": asset.error_message,
                "forward_attempts": asset.forward_attempts,
                "forwarded": bool(asset.upstream_id),
            }
            for asset in Asset.objects.order_by("pk")
        ],
        "invitations": dict(Counter(Invitation.objects.values_list("status", flat=True))),
        "unsent_receipts": Consent.objects.filter(
            receipt_sent_at__isnull=True, withdrawn_at__isnull=True
        )
        .exclude(person__email="")
        .count(),
        "pending_attempts_of_closed_sessions": LivenessAttempt.objects.filter(
            status=LivenessAttempt.Status.PENDING,
            session__status__in=VerificationSession.TERMINAL,
        ).count(),
    }


def main() -> None:
    import django

    django.setup()
    command, *args = sys.argv[1:]
    if command == "seed":
        result = seed(args[0], args[1], int(args[2]))
    elif command == "snapshot":
        result = snapshot()
    else:
        raise SystemExit(__doc__)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

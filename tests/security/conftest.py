"""People, sessions, groups and assets made directly, so the sweeps have real ids to aim at."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.security.people import Verified, make_invited, make_verified
from verification.models import VerificationSession


@pytest.fixture
def alice(account, project, consent_text, staff_user) -> Verified:
    return make_verified(
        "Alice Example",
        account=account,
        project=project,
        consent_text=consent_text,
        staff_user=staff_user,
    )


@pytest.fixture
def bob(account, project, consent_text, staff_user) -> Verified:
    return make_verified(
        "Bob Example",
        account=account,
        project=project,
        consent_text=consent_text,
        staff_user=staff_user,
    )


@pytest.fixture
def carol(account, project, consent_text, staff_user) -> tuple[str, VerificationSession]:
    return make_invited(
        "Carol Example",
        account=account,
        project=project,
        consent_text=consent_text,
        staff_user=staff_user,
    )


@pytest.fixture
def member_client(db) -> Client:
    """Signed in, but not staff: a studio account without access to the portal."""
    user = get_user_model().objects.create_user(username="member", password="x" * 16)
    client = Client()
    client.force_login(user)
    return client

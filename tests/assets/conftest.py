import pytest
from django.test import RequestFactory
from django.utils import timezone

from assets.models import AssetGroup
from tests.media.conftest import Media
from upstream.factory import client_for
from verification import services
from verification.models import VerificationSession


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("intake-media"))


@pytest.fixture
def verified_group(person, account, project, consent_text, staff_user, simulator) -> AssetGroup:
    return make_verified_group(person, account, project, consent_text, staff_user, simulator)


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

"""A group verified once serves several projects: each upload goes under the consent it is for."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Asset
from ledger.services import Actor
from tests.journey import code_in_last_message, link_in_last_message, run_pending_invitations
from verification import services, withdrawal
from verification.models import Consent, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_project(verified_group, staff_user, consent_text, phone):
    """The same person consents to a second project through a new link; their group serves it."""
    spring = Project.objects.create(name="Spring campaign", intended_use="Spring ads.")
    services.start_session(
        person=verified_group.person,
        account_id=verified_group.account_id,
        project=spring,
        consent_text=consent_text,
        media_kinds=["image", "audio"],
        channel="email",
        user=staff_user,
    )
    run_pending_invitations()
    link = link_in_last_message()
    phone.post(f"{link}consent/", {"signature_name": "Jane Doe", "agree": "on"})
    phone.post(f"{link}code/", {"code": code_in_last_message()})
    first = Consent.objects.exclude(project=spring).get()
    second = Consent.objects.get(project=spring)
    return first, second, link


def post(client, url: str, media, **fields: str):
    path = media.image((800, 1000))
    return client.post(
        url,
        {"files": SimpleUploadedFile(path.name, path.read_bytes()), **fields},
        headers={"Accept": "application/json"},
    )


def test_staff_choose_the_project_and_the_newest_is_the_default(
    staff_client, verified_group, second_project, media
):
    first, second, _ = second_project
    page = staff_client.get(f"/groups/{verified_group.pk}/").content.decode()
    assert 'name="consent"' in page and "Spring campaign" in page and first.project.name in page

    url = f"/groups/{verified_group.pk}/upload/"
    assert post(staff_client, url, media, consent=str(first.pk)).status_code == 201
    assert post(staff_client, url, media).status_code == 201
    assert [a.consent_id for a in Asset.objects.order_by("pk")] == [first.pk, second.pk]


def test_a_consent_that_no_longer_holds_takes_nothing(
    staff_client, verified_group, second_project, media, staff_user
):
    first, _, _ = second_project
    withdrawal.withdraw_consent(
        consent=first, actor=Actor.staff(staff_user), reason="asked by phone"
    )
    response = post(
        staff_client, f"/groups/{verified_group.pk}/upload/", media, consent=str(first.pk)
    )
    assert response.status_code == 409 and "no longer holds" in response.json()["error"]
    assert not Asset.objects.exists()


def test_one_project_means_no_choice(staff_client, verified_group):
    assert (
        'name="consent"' not in staff_client.get(f"/groups/{verified_group.pk}/").content.decode()
    )


def test_a_person_uploads_under_the_consent_of_their_own_link(phone, second_project, media):
    first, second, link = second_project
    assert phone.get(f"{link}upload/").status_code == 200  # the reused group serves this link too
    assert post(phone, f"{link}upload/", media).status_code == 201
    assert Asset.objects.get().consent_id == second.pk

    # Their consent for this link withdrawn: nothing goes under the other project's instead.
    withdrawal.withdraw_consent(consent=second, actor=Actor.person(second.person_id))
    refused = post(phone, f"{link}upload/", media)
    assert refused.status_code == 409
    assert "you gave through this link no longer holds" in refused.json()["error"]
    assert Asset.objects.count() == 1 and first.is_active()

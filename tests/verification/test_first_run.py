"""A first run: `make run`'s demo data lets staff start a verification without the admin, and an
empty list says where its entries are made."""

import io

import pytest
from django.core.management import call_command

from verification.models import ConsentText, Language, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr("portal.env.VAR_DIR", tmp_path)
    monkeypatch.setenv("DEMO_PASSWORD", "a demo password for tests")
    call_command("bootstrap_demo", stdout=io.StringIO())


def test_the_demo_has_a_project_and_a_consent_text_in_each_language(demo):
    from portal.management.commands.bootstrap_demo import DEMO_PROJECT

    assert Project.objects.filter(name=DEMO_PROJECT, is_active=True).exists()
    assert {text.language for text in ConsentText.objects.all()} == set(Language.values)
    call_command("bootstrap_demo", stdout=io.StringIO())  # safe to run again
    assert ConsentText.objects.count() == len(Language.values)
    assert Project.objects.count() == 1


def test_staff_start_a_verification_from_the_demo_data(demo, staff_client, person):
    form = staff_client.get(f"/persons/{person.pk}/verify/")
    assert b"empty-choice" not in form.content
    choices = form.context["form"]
    response = staff_client.post(
        f"/persons/{person.pk}/verify/",
        {
            "account": choices.fields["account"].queryset.first().pk,
            "project": choices.fields["project"].initial,
            "consent_text": choices.fields["consent_text"].initial,
            "media_kinds": ["image"],
            "channel": "email",
        },
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("empty", "admin_path"),
    [
        ("project", "/admin/verification/project/add/"),
        ("consent_text", "/admin/verification/consenttext/add/"),
        ("account", "/admin/upstream/upstreamaccount/add/"),
    ],
)
def test_an_empty_choice_links_to_where_it_is_made(
    staff_client, person, account, project, consent_text, empty, admin_path, settings
):
    if empty == "project":
        Project.objects.all().delete()
    elif empty == "consent_text":
        ConsentText.objects.all().delete()
    else:
        type(account).objects.all().delete()
    page = staff_client.get(f"/persons/{person.pk}/verify/").content.decode()
    assert f'data-empty="{empty}"' in page
    assert f'href="/{settings.ADMIN_PATH}{admin_path.removeprefix("/admin/")}"' in page
    assert page.count("empty-choice") == 1

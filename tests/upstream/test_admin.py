"""Admin: credentials are write-only; the call log is read-only."""

from django.urls import reverse

from tests.upstream.conftest import SECRET_KEY, TOKEN
from tests.upstream.fakeserver import Step
from upstream.models import Adapter, UpstreamAccount, UpstreamCall


def form_data(account: UpstreamAccount, **changes: str) -> dict[str, str]:
    data = {
        "name": account.name,
        "adapter": account.adapter,
        "base_url": account.base_url,
        "api_token": "",
        "access_key_id": account.access_key_id,
        "secret_access_key": "",
        "region": account.region,
        "project_name": account.project_name,
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_the_stored_secret_is_never_rendered(admin_client, anyfast_account, byteplus_account):
    for account in (anyfast_account, byteplus_account):
        page = admin_client.get(reverse("admin:upstream_upstreamaccount_change", args=[account.pk]))
        assert page.status_code == 200
        html = page.content.decode()
        assert TOKEN not in html
        assert SECRET_KEY not in html
        assert "leave blank to keep it" in html


def test_a_blank_secret_keeps_the_stored_one(admin_client, anyfast_account):
    url = reverse("admin:upstream_upstreamaccount_change", args=[anyfast_account.pk])
    response = admin_client.post(url, form_data(anyfast_account, name="Renamed"))
    assert response.status_code == 302
    anyfast_account.refresh_from_db()
    assert (anyfast_account.name, anyfast_account.api_token) == ("Renamed", TOKEN)


def test_a_typed_secret_replaces_the_stored_one(admin_client, anyfast_account):
    url = reverse("admin:upstream_upstreamaccount_change", args=[anyfast_account.pk])
    admin_client.post(url, form_data(anyfast_account, api_token="  sk-new-token-value  "))
    anyfast_account.refresh_from_db()
    assert anyfast_account.api_token == "sk-new-token-value"


def test_a_new_account_needs_its_adapters_credentials(admin_client):
    url = reverse("admin:upstream_upstreamaccount_add")
    data = {
        "name": "New",
        "adapter": Adapter.BYTEPLUS,
        "base_url": "https://ark.example",
        "region": "ap-southeast-1",
    }
    page = admin_client.post(url, data)
    assert page.status_code == 200
    assert "needs an access key id" in page.content.decode()
    assert not UpstreamAccount.objects.exists()


def test_the_check_action_explains_failures(admin_client, anyfast_account, fake):
    fake.script(Step(403, {"error": {"message": "GroupType must be one of [AIGC]"}}))
    url = reverse("admin:upstream_upstreamaccount_changelist")
    page = admin_client.post(
        url, {"action": "check_credentials", "_selected_action": [anyfast_account.pk]}, follow=True
    )
    assert "Byteplus-Direct" in page.content.decode()


def test_the_call_log_is_read_only(admin_client, anyfast_account):
    call = UpstreamCall.objects.create(account=anyfast_account, action="GetAsset", http_status=200)
    assert admin_client.get(reverse("admin:upstream_upstreamcall_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:upstream_upstreamcall_add")).status_code == 403
    detail = admin_client.get(reverse("admin:upstream_upstreamcall_change", args=[call.pk]))
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    delete = reverse("admin:upstream_upstreamcall_delete", args=[call.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert UpstreamCall.objects.filter(pk=call.pk).exists()

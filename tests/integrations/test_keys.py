import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from integrations.models import ApiKey
from ledger.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_the_command_prints_the_key_once_as_the_last_line_and_keeps_only_its_hash():
    out = StringIO()
    call_command("create_api_key", "render farm", "--scope", "read", "clear", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get()
    assert secret.startswith(f"sitter_{key.public_id}_")
    assert key.key_hash == ApiKey.hash(secret) and secret not in str(key.__dict__)
    assert key.scopes == ["read", "clear"]
    assert AuditEvent.objects.filter(action="api_key.created").count() == 1


def test_an_unknown_scope_is_refused_by_the_command():
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        call_command("create_api_key", "x", "--scope", "admin", stderr=StringIO())
    assert not ApiKey.objects.exists()


def test_no_key_a_wrong_key_and_a_revoked_key_get_401_in_the_error_shape(api):
    for client in (Client(), Client(HTTP_AUTHORIZATION="Bearer sitter_key_nope_x")):
        response = client.get("/api/v1/persons")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
    from integrations.keys import revoke_key
    from ledger.services import Actor

    revoke_key(key=ApiKey.objects.get(), actor=Actor.system())
    assert api.get("/api/v1/persons").status_code == 401


def test_each_scope_opens_only_its_own_endpoints(make_api, project):
    reader = make_api("read")
    assert reader.get("/api/v1/persons").status_code == 200
    refused = reader.post("/api/v1/persons", {"full_name": "Jane Doe"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "scope_missing"
    inviter = make_api("invite", name="crm")
    assert inviter.get("/api/v1/persons").status_code == 403
    assert inviter.post("/api/v1/persons", {"full_name": "Jane Doe"}).status_code == 201
    assert (
        inviter.post(
            "/api/v1/clearances", {"assets": ["ast_1"], "project": f"prj_{project.pk}"}
        ).status_code
        == 403
    )
    assert (
        make_api("clear", name="farm")
        .post("/api/v1/clearances", {"assets": ["ast_1"], "project": f"prj_{project.pk}"})
        .status_code
        == 201
    )
    assert reader.get("/api/v1/webhook-endpoints").status_code == 403
    assert make_api("webhooks", name="hooks").get("/api/v1/webhook-endpoints").status_code == 200
    assert reader.upload("/api/v1/groups/grp_1/assets", {}).status_code == 403


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(make_api):
    api = make_api("read", rate_limit_per_minute=3)
    assert [api.get("/api/v1/persons").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert api.get("/api/v1/persons")["Retry-After"] == "60"


def test_last_use_is_shown_and_the_key_never_reaches_a_log(api, caplog):
    caplog.set_level(logging.DEBUG)
    api.get("/api/v1/persons")
    assert api.client.get("/api/v1/nothing-here").json()["error"]["code"] == "not_found"
    assert ApiKey.objects.get().last_used_at is not None
    assert api.secret not in caplog.text
    assert api.secret.split("_")[-1] not in caplog.text

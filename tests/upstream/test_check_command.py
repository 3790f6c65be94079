"""`manage.py upstream_check`: one free read call, failures in plain words, non-zero exit."""

import io
import socket

import pytest
from django.core.management import CommandError, call_command

from tests.upstream.fakeserver import Step

OK_PAGE = Step(200, {"PageNumber": 1, "PageSize": 1, "TotalCount": 0, "Items": []})


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("upstream_check", *args, stdout=out)
    return out.getvalue()


def test_a_working_account_passes(anyfast_account, fake):
    fake.script(OK_PAGE)
    assert "OK" in run(anyfast_account.name)
    sent = fake.requests[0].json()
    assert (sent["PageSize"], sent["Filter"]) == (1, {"GroupType": "LivenessFace"})


def test_accounts_can_be_named_by_id(byteplus_account, fake):
    fake.script(Step(200, {"ResponseMetadata": {}, "Result": {"Items": [], "TotalCount": 0}}))
    assert "OK" in run(str(byteplus_account.pk))


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (Step(403, {"error": {"message": "GroupType must be one of [AIGC]"}}), "Byteplus-Direct"),
        (Step(401, {"error": {"message": "invalid token"}}), "valid token"),
        (Step(200, "<html>login</html>"), "can't read"),
    ],
)
def test_failures_are_explained_and_exit_non_zero(anyfast_account, fake, step, words, capsys):
    fake.script(step, step)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("upstream_check", anyfast_account.name, stdout=out)
    assert words in out.getvalue()
    assert "What to do" in out.getvalue()


def test_an_unreachable_host_is_explained(anyfast_account):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        anyfast_account.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    anyfast_account.save()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("upstream_check", anyfast_account.name, stdout=out)
    assert "could not be reached" in out.getvalue()


def test_a_bad_signature_is_explained(byteplus_account, fake):
    body = {"ResponseMetadata": {"Error": {"Code": "SignatureDoesNotMatch", "Message": "x"}}}
    fake.script(Step(401, body))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("upstream_check", byteplus_account.name, stdout=out)
    assert "secret access key" in out.getvalue()


def test_an_unknown_account_is_an_error(db):
    with pytest.raises(CommandError, match="No upstream account"):
        run("nope")

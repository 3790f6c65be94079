"""`manage.py upstream_check`: free read calls, failures in plain words, non-zero exit."""

import io
import socket

import pytest
from django.core.management import CommandError, call_command

from tests.upstream.fakeserver import Step
from upstream.client import PROBE_BYTED_TOKEN

OK_PAGE = Step(200, {"PageNumber": 1, "PageSize": 1, "TotalCount": 0, "Items": []})


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("upstream_check", *args, stdout=out)
    return out.getvalue()


# How the gateway relays "no such session" for the probe token.
UNKNOWN_SESSION = Step(
    404,
    {
        "code": 404,
        "message": '{"Code": "NotFound.byted_token", "Message": "BytedToken not found."}',
        "data": None,
    },
)


def test_a_working_account_passes(anyfast_account, fake):
    fake.script(OK_PAGE, UNKNOWN_SESSION)
    out = run(anyfast_account.name)
    assert out.startswith("OK") and "Byteplus-Direct" in out
    listing, probe = (seen.json() for seen in fake.requests)
    assert (listing["PageSize"], listing["Filter"]) == (1, {})
    assert fake.actions() == ["ListAssets", "GetVisualValidateResult"]
    assert probe["BytedToken"] == PROBE_BYTED_TOKEN and len(probe["BytedToken"]) == 34


def test_an_empty_result_for_the_probe_also_confirms_the_group(anyfast_account, fake):
    fake.script(OK_PAGE, Step(200, {"GroupId": ""}))
    assert run(anyfast_account.name).startswith("OK")


def test_a_token_whose_lists_work_but_sessions_are_refused_fails(anyfast_account, fake):
    """The reading where the gateway answers lists for any token: only the session call tells."""
    fake.script(OK_PAGE, Step(400, {"code": 400, "message": "GroupType must be one of [AIGC]"}))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("upstream_check", anyfast_account.name, stdout=out)
    assert "FAIL" in out.getvalue() and "Byteplus-Direct" in out.getvalue()


def test_an_answer_that_proves_nothing_is_reported_as_unsure(anyfast_account, fake):
    fake.script(OK_PAGE, Step(400, {"code": 400, "message": "Something else went wrong."}))
    out = run(anyfast_account.name)
    assert out.startswith("UNSURE") and "first real session will tell" in out
    assert "Byteplus-Direct" in out  # what to make sure of


def test_accounts_can_be_named_by_id(byteplus_account, fake):
    fake.script(
        Step(200, {"ResponseMetadata": {}, "Result": {"Items": [], "TotalCount": 0}}),
        Step(200, {"ResponseMetadata": {}, "Result": {"GroupId": ""}}),
    )
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

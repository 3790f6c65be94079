"""The contract's disputed rows (issue 19): each is a simulator switch, and the client and one
portal journey are run under every setting of it. docs/upstream-accounts.md lists the rows, the
default reading and the evidence for it."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from assets import services
from assets.models import Asset
from ledger.models import AuditEvent
from tests.journey import callback_path, consent_and_start, latest_attempt
from upstream import errors
from upstream.client import UpstreamClient
from upstream.factory import client_for
from upstream.models import Adapter, UpstreamAccount, UpstreamCall
from upstream.types import AssetType, InlineSource, UrlSource
from verification import liveness
from verification.models import LivenessAttempt, VerificationSession

pytestmark = pytest.mark.django_db
Status = Asset.Status
CALLBACK = "https://portal.example/verified/x/"


def switch(simulator, **values) -> None:
    simulator.control("POST", "switches", json=values)


@pytest.fixture(params=[Adapter.ANYFAST, Adapter.BYTEPLUS])
def any_account(request, db, simulator, account) -> UpstreamAccount:
    if request.param == Adapter.ANYFAST:
        return account
    return UpstreamAccount.objects.create(
        name="Simulated BytePlus",
        adapter=Adapter.BYTEPLUS,
        base_url=simulator.url,
        access_key_id=simulator.access_key_id,
        secret_access_key=simulator.secret_access_key,
        region="ap-southeast-1",
    )


@pytest.fixture
def aigc_account(db, simulator) -> UpstreamAccount:
    return UpstreamAccount.objects.create(
        name="AIGC token",
        adapter=Adapter.ANYFAST,
        base_url=simulator.url,
        api_token=simulator.aigc_token,
    )


def group_of(client: UpstreamClient, simulator) -> str:
    started = client.start_verification(callback_url=CALLBACK)
    simulator.complete(started.byted_token)
    return client.get_verification_result(byted_token=started.byted_token).group_id


def upload_file(staff_client, group, path, name: str = "portrait.jpg") -> Asset:
    response = staff_client.post(
        f"/groups/{group.pk}/upload/",
        {"files": SimpleUploadedFile(name, path.read_bytes())},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201, response.content
    return Asset.objects.get(pk=response.json()["assets"][0]["id"])


def forward_and_follow(asset: Asset) -> Asset:
    services.forward(asset_id=asset.pk)
    asset.refresh_from_db()
    if asset.status == Status.PROCESSING:
        asset = services.refresh_status(asset=asset)
    return asset


def live_named(simulator, name: str) -> list[dict]:
    credentials = simulator.control("GET", "state")["credentials"].values()
    return [
        a
        for c in credentials
        for a in c["assets"]
        if a["name"] == name and not (a["deleted"] or a["phantom"])
    ]


# --- Duplicate Name in a group --------------------------------------------------------------------

DUPLICATE_BEHAVIOURS = ["phantom", "reject", "not_found"]


@pytest.mark.parametrize("behaviour", DUPLICATE_BEHAVIOURS)
def test_client_a_duplicate_name_under_every_reading(any_account, simulator, media, behaviour):
    switch(simulator, duplicate_name_behaviour=behaviour)
    client = client_for(any_account)
    group_id = group_of(client, simulator)
    source = InlineSource(media.image((800, 1000)), "image/jpeg")
    first = client.create_asset(
        group_id=group_id, name="same", asset_type=AssetType.IMAGE, source=source
    )
    again = client.create_asset(
        group_id=group_id,
        name="same",
        asset_type=AssetType.IMAGE,
        source=source,
        check_existing=False,  # as when another worker's create landed after our look-up
    )
    if behaviour == "phantom":
        # A 200 with an Id nobody can read: only the follow-up can tell (see the journey).
        assert again != first
        with pytest.raises(errors.AssetNotFound):
            client.get_asset(asset_id=again, group_id=group_id)
    else:
        assert again == first
    found = client.find_asset_by_name(group_id=group_id, name="same")
    assert found is not None and found.id == first


@pytest.mark.parametrize("behaviour", DUPLICATE_BEHAVIOURS)
def test_journey_an_upload_whose_name_exists_upstream_adopts_that_asset(
    staff_client, verified_group, media, simulator, settings, monkeypatch, behaviour
):
    """Another worker's create of the same upload landed just after our look-up by Name."""
    settings.ASSET_FORWARDING_MODE = "inline"
    switch(simulator, duplicate_name_behaviour=behaviour)
    asset = upload_file(staff_client, verified_group, media.image((800, 1000)))
    existing = client_for(verified_group.account).create_asset(
        group_id=verified_group.upstream_id,
        name=asset.upstream_name,
        asset_type=AssetType.IMAGE,
        source=InlineSource(media.image((800, 1000)), "image/jpeg"),
    )
    look_up = UpstreamClient.find_asset_by_name
    missed: list[str] = []

    def late_listing(self, *, group_id, name):
        if not missed:  # the pre-create look-up misses it once
            missed.append(name)
            return None
        return look_up(self, group_id=group_id, name=name)

    monkeypatch.setattr(UpstreamClient, "find_asset_by_name", late_listing)
    asset = forward_and_follow(asset)
    assert missed and asset.status == Status.ACTIVE, (asset.status, asset.error_message)
    assert asset.upstream_id == existing and asset.asset_uri == f"asset://{existing}"
    assert [a["id"] for a in live_named(simulator, asset.upstream_name)] == [existing]
    adopted = AuditEvent.objects.filter(action="asset.adopted")
    assert adopted.count() == (1 if behaviour == "phantom" else 0)


# --- Wrong token group detection ------------------------------------------------------------------

LIST_READINGS = ["refused", "answered"]


@pytest.mark.parametrize("reading", LIST_READINGS)
def test_client_the_check_tells_the_token_group_under_both_list_readings(
    simulator, account, aigc_account, reading
):
    switch(simulator, wrong_group_liveness_lists=reading)
    listing = client_for(aigc_account).list_assets
    if reading == "answered":
        # What the old check relied on: here it answers, so it can't tell the groups apart.
        assert listing(group_type="LivenessFace").total_count == 0
    else:
        with pytest.raises(errors.WrongTokenGroup):
            listing(group_type="LivenessFace")
    with pytest.raises(errors.WrongTokenGroup):
        client_for(aigc_account).check_credentials()
    assert client_for(account).check_credentials().sessions_confirmed


@pytest.mark.parametrize("reading", LIST_READINGS)
def test_journey_upstream_check_fails_a_wrong_group_token(
    simulator, account, aigc_account, any_account, reading
):
    switch(simulator, wrong_group_liveness_lists=reading)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of"):
        call_command("upstream_check", stdout=out)
    text = out.getvalue()
    assert f"FAIL  {aigc_account.name}" in text and "Byteplus-Direct" in text
    assert f"OK    {account.name}" in text and f"OK    {any_account.name}" in text


# --- Inactive assets -----------------------------------------------------------------------------


@pytest.mark.parametrize("inactive", [False, True])
def test_client_a_ready_asset_reads_active_or_inactive(any_account, simulator, media, inactive):
    switch(simulator, report_inactive_instead_of_active=inactive)
    client = client_for(any_account)
    group_id = group_of(client, simulator)
    asset_id = client.create_asset(
        group_id=group_id,
        name="ready",
        asset_type=AssetType.AUDIO,
        source=InlineSource(media.wav(3.0), "audio/wav"),
    )
    status = client.get_asset(asset_id=asset_id, group_id=group_id).status
    assert status.is_terminal and status.is_inactive == inactive and status.is_active != inactive


@pytest.mark.parametrize("inactive", [False, True])
def test_journey_an_inactive_asset_is_not_usable_shown_in_words_and_not_polled(
    staff_client, verified_group, media, simulator, settings, inactive
):
    settings.ASSET_FORWARDING_MODE = "inline"
    switch(simulator, report_inactive_instead_of_active=inactive)
    asset = forward_and_follow(upload_file(staff_client, verified_group, media.wav(3.0), "v.wav"))
    page = staff_client.get(f"/groups/{verified_group.pk}/").content.decode()
    if not inactive:
        assert asset.status == Status.ACTIVE and asset.asset_uri
        return
    assert asset.status == Status.INACTIVE and asset.is_terminal
    assert asset.asset_uri == "" and asset.next_check_at is None
    assert "Inactive upstream, not usable" in page and "stopped following it" in page
    assert AuditEvent.objects.filter(action="asset.inactive").count() == 1
    reads = len(simulator.requests_for("GetAsset"))
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert services.claim_due_checks() == []
        services.refresh_status(asset=asset)
    assert len(simulator.requests_for("GetAsset")) == reads


# --- Single-use result tokens --------------------------------------------------------------------


@pytest.mark.parametrize("single_use", [False, True])
def test_client_a_second_read_of_a_result(any_account, simulator, single_use):
    switch(simulator, result_token_single_use=single_use)
    client = client_for(any_account)
    started = client.start_verification(callback_url=CALLBACK)
    assert not client.get_verification_result(byted_token=started.byted_token).finished
    simulator.complete(started.byted_token)
    assert client.get_verification_result(byted_token=started.byted_token).finished
    if single_use:
        with pytest.raises(errors.VerificationExpired):
            client.get_verification_result(byted_token=started.byted_token)
    else:
        assert client.get_verification_result(byted_token=started.byted_token).finished


@pytest.mark.parametrize("single_use", [False, True])
def test_journey_an_answer_lost_after_the_read_and_the_way_back(
    start_by_email, phone, simulator, staff_client, single_use
):
    switch(simulator, result_token_single_use=single_use)
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    attempt = latest_attempt(session)
    callback = simulator.complete(attempt.byted_token)
    # The upstream answers the read, then the connection drops before the answer arrives.
    simulator.control(
        "POST",
        "faults",
        json={"action": "GetVisualValidateResult", "kind": "commit_then_drop", "count": 1},
    )
    page = phone.get(callback_path(callback)).content.decode()
    session.refresh_from_db()
    if not single_use:
        assert "you are verified" in page and session.status == VerificationSession.Status.VERIFIED
        return
    assert "We did not get your result" in page and "Start a new check" in page
    assert latest_attempt(session).status == LivenessAttempt.Status.LOST
    assert session.status == VerificationSession.Status.CONSENTED
    assert "start a new check" in session.last_error
    assert "start a new check" in staff_client.get(f"/sessions/{session.pk}/").content.decode()
    assert AuditEvent.objects.filter(action="verification.result_lost").count() == 1
    retried = phone.post(f"/verified/{attempt.ref}/retry/")
    assert retried.status_code == 302
    second = latest_attempt(session)
    phone.get(callback_path(simulator.complete(second.byted_token)))
    session.refresh_from_db()
    assert session.status == VerificationSession.Status.VERIFIED


@pytest.mark.parametrize("single_use", [False, True])
def test_journey_the_first_group_id_is_kept_before_anything_else(
    start_by_email, phone, simulator, monkeypatch, single_use
):
    switch(simulator, result_token_single_use=single_use)
    session, link = start_by_email()
    consent_and_start(phone, link)
    simulator.complete(latest_attempt(session).byted_token)  # the phone never comes back
    real_record = liveness.record

    def failing_record(*, action, **kwargs):
        if action == "verification.completed":
            raise DatabaseError("the database went away mid-commit")
        return real_record(action=action, **kwargs)

    monkeypatch.setattr(liveness, "record", failing_record)
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        token, ids = liveness.claim_due_attempts()
        with pytest.raises(DatabaseError):
            liveness.poll_attempt(attempt_id=ids[0], lease_token=token)
    attempt = latest_attempt(session)
    assert attempt.status == LivenessAttempt.Status.PENDING and attempt.group_id
    monkeypatch.setattr(liveness, "record", real_record)
    with time_machine.travel(timezone.now() + timedelta(seconds=90)):
        token, ids = liveness.claim_due_attempts()
        liveness.poll_attempt(attempt_id=ids[0], lease_token=token)
    session.refresh_from_db()
    assert session.status == VerificationSession.Status.VERIFIED
    assert session.upstream_group_id == attempt.group_id
    assert len(simulator.requests_for("GetVisualValidateResult")) == 1  # never asked twice


def test_journey_a_group_id_read_beside_a_refused_read_still_verifies(
    start_by_email, phone, simulator, account
):
    """Two reads race under single use: the sweep's gets the GroupId, the callback's is refused
    and ends the attempt as lost before the sweep keeps it. The GroupId still wins."""
    switch(simulator, result_token_single_use=True)
    session, link = start_by_email()
    consent_and_start(phone, link)
    attempt = latest_attempt(session)
    simulator.complete(attempt.byted_token)
    result = client_for(account).get_verification_result(byted_token=attempt.byted_token)
    lost = liveness.confirm_attempt(attempt=latest_attempt(session), interactive=True)
    assert lost.status == LivenessAttempt.Status.LOST
    liveness._keep_group_id(attempt, result.group_id)
    liveness.complete_verification(attempt=attempt, group_id=result.group_id)
    session.refresh_from_db()
    assert session.status == VerificationSession.Status.VERIFIED
    assert latest_attempt(session).status == LivenessAttempt.Status.SUCCEEDED


# --- The request body cap ------------------------------------------------------------------------


def test_client_a_body_over_the_simulators_cap_is_refused_as_too_large(
    any_account, simulator, media
):
    path = media.image((800, 1000))
    switch(simulator, max_body_bytes=path.stat().st_size)
    client = client_for(any_account)
    group_id = group_of(client, simulator)
    with pytest.raises(errors.SourceTooLarge):
        client.create_asset(
            group_id=group_id,
            name="big",
            asset_type=AssetType.IMAGE,
            source=InlineSource(path, "image/jpeg"),
        )
    assert [r["status"] for r in simulator.requests_for("CreateAsset")] == [413]


@pytest.mark.parametrize("cap", ["default", "small"])
def test_journey_inline_mode_sends_a_file_too_large_to_inline_another_way(
    staff_client, verified_group, media, simulator, settings, cap
):
    """With the small cap the upstream refuses the inline body itself (the client's own cap is
    left at its default), and the file goes again as multipart."""
    settings.ASSET_FORWARDING_MODE = "inline"
    path = media.image((800, 1000))
    if cap == "small":
        # Over the Base64 body, under the multipart one.
        switch(simulator, max_body_bytes=int(path.stat().st_size * 1.2))
    asset = forward_and_follow(upload_file(staff_client, verified_group, path))
    assert asset.status == Status.ACTIVE, asset.error_message
    [upstream] = live_named(simulator, asset.upstream_name)
    expected = {"default": ("data_uri", [200]), "small": ("multipart", [413, 200])}[cap]
    assert (upstream["via"], [r["status"] for r in simulator.requests_for("CreateAsset")]) == (
        expected
    )
    forwarded = AuditEvent.objects.get(action="asset.forwarded")
    assert forwarded.payload["mode"] == ("inline" if cap == "default" else "multipart")


def test_journey_our_own_cap_sends_large_files_another_way_without_a_refused_call(
    staff_client, verified_group, media, simulator, settings
):
    settings.ASSET_FORWARDING_MODE = "inline"
    path = media.image((800, 1000))
    settings.UPSTREAM_INLINE_MAX_BYTES = path.stat().st_size
    asset = forward_and_follow(upload_file(staff_client, verified_group, path))
    assert asset.status == Status.ACTIVE
    assert [r["status"] for r in simulator.requests_for("CreateAsset")] == [200]
    assert live_named(simulator, asset.upstream_name)[0]["via"] == "multipart"


def test_without_multipart_the_fallback_is_the_url(simulator, settings, db):
    account = UpstreamAccount.objects.create(
        name="BytePlus",
        adapter=Adapter.BYTEPLUS,
        base_url=simulator.url,
        access_key_id=simulator.access_key_id,
        secret_access_key=simulator.secret_access_key,
    )
    asset = Asset(pk=7, upstream_name="sitter-x", file="assets/x", content_type="image/jpeg")
    source = services._instead_of_inline(asset, client_for(account))
    assert isinstance(source, UrlSource) and source.url.startswith(settings.PUBLIC_BASE_URL)


# --- Failed liveness in the callback -------------------------------------------------------------


@pytest.mark.parametrize(
    "result_code",
    [
        "10000",  # the contract's one listed code: success
        "10001",  # a failure as the simulator reports it
        "60207",  # an unknown numeric code
        "face_timeout",  # an unknown code of another shape
    ],
)
def test_journey_a_callback_result_code_is_shown_with_its_way_back(
    start_by_email, phone, simulator, staff_client, result_code
):
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    attempt = latest_attempt(session)
    passed = result_code == "10000"
    url = simulator.complete(attempt.byted_token, result_code=10000 if passed else 10001)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | {"resultCode": result_code}
    page = phone.get(f"{parts.path}?{urlencode(query)}").content.decode()
    session.refresh_from_db()
    if passed:
        assert "you are verified" in page and session.status == VerificationSession.Status.VERIFIED
        return
    assert "did not succeed" in page and "Try again" in page
    assert session.status == VerificationSession.Status.FAILED
    staff_page = staff_client.get(f"/sessions/{session.pk}/").content.decode()
    assert f"resultCode {result_code}" in staff_page
    assert "algorithmBaseRespCode -1" in staff_page  # the undocumented parameters, as evidence
    failed = AuditEvent.objects.get(action="verification.failed")
    assert failed.payload["result_code"] == result_code
    assert failed.payload["details"]["verify_type"] == "liveness"
    assert "bytedToken" not in failed.payload["details"]
    assert phone.post(f"/verified/{attempt.ref}/retry/").status_code == 302


def test_journey_a_failure_is_shown_even_when_the_upstream_cannot_be_asked(
    start_by_email, phone, simulator
):
    session, link = start_by_email()
    phone.get(link)
    consent_and_start(phone, link)
    callback = simulator.complete(latest_attempt(session).byted_token, result_code=10001)
    simulator.control(
        "POST",
        "faults",
        json={"action": "GetVisualValidateResult", "kind": "error", "status": 503, "count": 5},
    )
    page = phone.get(callback_path(callback)).content.decode()
    assert "did not succeed" in page and "Try again" in page


# --- Error codes in the gateway's plain shape ----------------------------------------------------


@pytest.mark.parametrize("shape", ["plain", "gateway"])
def test_client_the_gateways_own_refusals_are_named_from_their_message(
    simulator, aigc_account, shape
):
    switch(simulator, gateway_check_error_shape=shape)
    with pytest.raises(errors.WrongTokenGroup) as caught:
        client_for(aigc_account).start_verification(callback_url=CALLBACK)
    assert (caught.value.code, caught.value.http_status) == ("WrongTokenGroup", 400)


@pytest.mark.parametrize("shape", ["plain", "gateway"])
def test_journey_staff_see_the_named_error_for_a_wrong_group(
    start_by_email, phone, account, simulator, staff_client, shape
):
    switch(simulator, gateway_check_error_shape=shape)
    account.api_token = simulator.aigc_token
    account.save()
    session, link = start_by_email()
    refused = phone.post(f"{link}consent/", {"signature_name": "Jane Doe", "agree": "on"})
    assert refused.status_code == 409
    call = UpstreamCall.objects.get(action="CreateVisualValidateSession")
    assert (call.error_code, call.http_status) == ("WrongTokenGroup", 400)
    assert b"Byteplus-Direct" in staff_client.get(f"/sessions/{session.pk}/").content


# --- Groups missing from ListAssetGroups ---------------------------------------------------------


@pytest.mark.parametrize("listed", [False, True])
def test_client_liveness_groups_in_the_group_list_or_not(any_account, simulator, listed):
    switch(simulator, liveness_groups_in_list=listed)
    client = client_for(any_account)
    group_id = group_of(client, simulator)
    ids = [group.id for group in client.iter_groups(group_id=group_id)]
    assert ids == ([group_id] if listed else [])


@pytest.mark.parametrize("listed", [False, True])
def test_journey_reconcile_confirms_groups_through_their_assets(
    verified_group, simulator, media, listed, person, account, project, consent_text, staff_user
):
    from tests.journey import make_verified_group

    switch(simulator, liveness_groups_in_list=listed)
    client_for(account).create_asset(
        group_id=verified_group.upstream_id,
        name="made-elsewhere",
        asset_type=AssetType.AUDIO,
        source=InlineSource(media.wav(3.0), "audio/wav"),
    )
    empty = make_verified_group(person, account, project, consent_text, staff_user, simulator)
    out = io.StringIO()
    call_command("reconcile_upstream", stdout=out)
    text = out.getvalue()
    assert "missing" not in text
    assert "group: confirmed through the assets listed in it" in text
    empty_line = "group: listed by ListAssetGroups" if listed else "group: not confirmed"
    assert f"{empty.upstream_id}: ok (0 here, 0 upstream)\n  {empty_line}" in text

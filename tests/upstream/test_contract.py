"""Contract tests: the real client against the upstream simulator, over real HTTP.

Both adapters, every operation, every documented error, the three Anyfast error shapes, signing,
and the injected faults (retries, and a create whose answer is lost after the commit).
"""

from __future__ import annotations

import functools
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from tests.upstream import media
from tests.upstream.simulator import KEYPAIRS, TOKENS, Simulator, start, stop
from upstream import errors, signing
from upstream.client import UpstreamClient
from upstream.codes import build_error, explain, find_error
from upstream.factory import client_for
from upstream.models import Adapter, UpstreamAccount, UpstreamCall
from upstream.types import AssetType, InlineSource, MultipartSource, UrlSource

pytestmark = pytest.mark.django_db
CALLBACK = "https://portal.example/verify/callback?s=1"


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def simulator(tmp_path_factory) -> Iterator[Simulator]:
    sim = start(tmp_path_factory.mktemp("simulator"))
    yield sim
    stop(sim)


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """Media files, and the URL of a local web server the simulator downloads them from."""
    folder = tmp_path_factory.mktemp("media")
    media.portrait(folder / "face.jpg")
    media.video(folder / "clip.mp4")
    media.video(folder / "tiny.mp4", width=400, height=400)
    media.voice(folder / "voice.wav")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fresh_simulator(simulator, settings):
    simulator.control("POST", "reset")
    simulator.control("DELETE", "faults")
    settings.UPSTREAM_CONNECT_TIMEOUT = 2.0
    settings.UPSTREAM_READ_TIMEOUT = 1.0
    settings.UPSTREAM_TOTAL_TIMEOUT = 2.0
    settings.UPSTREAM_READ_ATTEMPTS = 3
    settings.UPSTREAM_RETRY_BASE_DELAY = 0.05
    settings.UPSTREAM_RETRY_MAX_DELAY = 0.2
    settings.UPSTREAM_RETRY_BUDGET = 10.0
    settings.UPSTREAM_CREATE_SENDS = 2


@pytest.fixture
def make_client(simulator) -> Callable[..., UpstreamClient]:
    def make(adapter: str, who: str = "main", **changes: str) -> UpstreamClient:
        fields: dict[str, str] = {"adapter": adapter, "base_url": simulator.url}
        if adapter == Adapter.ANYFAST:
            fields["api_token"] = TOKENS[who][0]
        else:
            ak, sk, _ = KEYPAIRS[who]
            fields.update(access_key_id=ak, secret_access_key=sk, region="ap-southeast-1")
        fields.update(changes)
        name = f"{adapter}-{who}-{UpstreamAccount.objects.count()}"
        account = UpstreamAccount.objects.create(name=name, **fields)
        return client_for(account)

    return make


@pytest.fixture(params=[Adapter.ANYFAST, Adapter.BYTEPLUS])
def adapter(request) -> str:
    return request.param


@pytest.fixture
def client(make_client, adapter) -> UpstreamClient:
    return make_client(adapter)


def owner(adapter: str, who: str = "main") -> str:
    return f"{'token' if adapter == Adapter.ANYFAST else 'key'}:{who}"


def verified_group(client: UpstreamClient, simulator: Simulator) -> str:
    start = client.start_verification(callback_url=CALLBACK)
    simulator.complete(start.byted_token)
    result = client.get_verification_result(byted_token=start.byted_token)
    assert result.finished
    return result.group_id


def settle(client: UpstreamClient, simulator: Simulator, asset_id: str, group_id: str):
    """Let simulated processing finish, then read the asset."""
    simulator.advance(60)
    return client.get_asset(asset_id=asset_id, group_id=group_id)


def upload(client, group_id, source, *, name="upload-1", asset_type=AssetType.IMAGE, **kw) -> str:
    return client.create_asset(
        group_id=group_id, name=name, asset_type=asset_type, source=source, **kw
    )


# --- Verification --------------------------------------------------------------------------------


def test_credentials_check_out(client):
    client.check_credentials()


def test_a_verification_yields_a_group_only_once_the_person_finished(client, simulator):
    start = client.start_verification(callback_url=CALLBACK)
    assert len(start.byted_token) == 34
    assert start.byted_token[:14].isdigit()
    assert start.callback_url == CALLBACK
    assert "lng=en" in start.h5_link_for_language("en")
    pending = client.get_verification_result(byted_token=start.byted_token)
    assert not pending.finished
    simulator.complete(start.byted_token)
    result = client.get_verification_result(byted_token=start.byted_token)
    assert result.finished
    assert result.group_id.startswith("group-")


def test_a_failed_liveness_check_never_yields_a_group(client, simulator):
    start = client.start_verification(callback_url=CALLBACK)
    simulator.complete(start.byted_token, result_code=10001)
    assert not client.get_verification_result(byted_token=start.byted_token).finished


def test_a_single_use_result_token_refuses_a_second_read(client, simulator):
    simulator.switches(result_token_single_use=True)
    start = client.start_verification(callback_url=CALLBACK)
    simulator.complete(start.byted_token)
    assert client.get_verification_result(byted_token=start.byted_token).finished
    with pytest.raises(errors.VerificationExpired):
        client.get_verification_result(byted_token=start.byted_token)


def test_a_missing_callback_url_is_named(adapter, simulator):
    """The client refuses an empty CallbackURL itself; this checks it reads the upstream's refusal."""
    if adapter == Adapter.ANYFAST:
        headers = {
            "Authorization": f"Bearer {TOKENS['main'][0]}",
            "Content-Type": "application/json",
        }
        response = requests.post(
            f"{simulator.url}/volc/asset/CreateVisualValidateSession",
            data=b"{}",
            headers=headers,
            timeout=5,
        )
    else:
        response = signed_post(simulator, "CreateVisualValidateSession", b"{}")
    detail = find_error(response.json())
    assert detail is not None
    error = build_error(
        status=response.status_code, detail=detail, action="CreateVisualValidateSession"
    )
    assert isinstance(error, errors.MissingCallbackUrl)


def test_a_token_from_the_wrong_group_is_explained(make_client):
    client = make_client(Adapter.ANYFAST, "aigc")
    with pytest.raises(errors.WrongTokenGroup) as caught:
        client.start_verification(callback_url=CALLBACK)
    assert "Byteplus-Direct" in caught.value.fix
    with pytest.raises(errors.WrongTokenGroup):
        client.check_credentials()


# --- Assets --------------------------------------------------------------------------------------


def sources(adapter: str, files: tuple[Path, str]) -> list[tuple[str, object]]:
    folder, base = files
    ways: list[tuple[str, object]] = [
        ("url", UrlSource(f"{base}/face.jpg")),
        ("data_uri", InlineSource(folder / "face.jpg", "image/jpeg")),
    ]
    if adapter == Adapter.ANYFAST:
        ways.append(("multipart", MultipartSource(folder / "face.jpg", "image/jpeg", "face.jpg")))
    return ways


def test_assets_travel_every_way_and_live_their_whole_life(client, adapter, simulator, files):
    group_id = verified_group(client, simulator)
    for index, (via, source) in enumerate(sources(adapter, files)):
        name = f"portrait-{via}"
        asset_id = upload(client, group_id, source, name=name)
        fresh = client.get_asset(asset_id=asset_id)
        assert (fresh.status.value, fresh.name, fresh.group_id) == ("Processing", name, group_id)
        done = settle(client, simulator, asset_id, group_id)
        assert done.status.is_active, done
        assert done.asset_type == "Image"
        assert isinstance(done.create_time, datetime)
        assert done.reference == f"asset://{asset_id}"
        assert client.find_asset_by_name(group_id=group_id, name=name).id == asset_id
        [upstream] = simulator.assets(owner(adapter), name=name)
        assert upstream["via"] == via
        listed = client.list_assets(group_ids=[group_id], statuses=["Active"])
        assert listed.total_count == index + 1
    client.delete_asset(asset_id=asset_id)
    with pytest.raises(errors.AssetNotFound):
        client.get_asset(asset_id=asset_id)
    with pytest.raises(errors.AssetNotFound):
        client.delete_asset(asset_id=asset_id)


def test_video_and_audio_become_active(client, simulator, files):
    folder, base = files
    group_id = verified_group(client, simulator)
    video = upload(
        client,
        group_id,
        InlineSource(folder / "clip.mp4", "video/mp4"),
        name="v",
        asset_type=AssetType.VIDEO,
    )
    audio = upload(
        client, group_id, UrlSource(f"{base}/voice.wav"), name="a", asset_type=AssetType.AUDIO
    )
    assert settle(client, simulator, video, group_id).status.is_active
    assert settle(client, simulator, audio, group_id).asset_type == "Audio"


def test_paging_walks_every_asset(client, simulator, files):
    _, base = files
    group_id = verified_group(client, simulator)
    ids = {upload(client, group_id, UrlSource(f"{base}/face.jpg"), name=f"p{i}") for i in range(3)}
    page = client.list_assets(group_ids=[group_id], page_size=2)
    assert (len(page.items), page.total_count) == (2, 3)
    assert {a.id for a in client.iter_assets(group_ids=[group_id], page_size=2)} == ids
    assert client.list_assets(group_ids=[group_id], statuses=["Active"]).total_count == 0


def test_face_mismatch_fails_the_asset_with_an_explanation(client, simulator, files):
    group_id = verified_group(client, simulator)
    simulator.control("POST", "face-mismatch", {"group_id": group_id, "count": 1})
    asset_id = upload(client, group_id, UrlSource(f"{files[1]}/face.jpg"))
    failed = settle(client, simulator, asset_id, group_id)
    assert failed.status.is_failed and failed.status.is_terminal
    assert failed.error_code == "FaceMismatch"
    assert "front-facing" in explain(failed.error_code)[1]


def test_content_moderation_fails_the_asset(client, simulator, files):
    group_id = verified_group(client, simulator)
    simulator.control("POST", "moderation", {"group_id": group_id, "count": 1})
    failed = settle(
        client, simulator, upload(client, group_id, UrlSource(f"{files[1]}/face.jpg")), group_id
    )
    assert failed.error_code == "InputImageSensitiveContentDetected.PolicyViolation"
    assert "moderation" in explain(failed.error_code)[0]


def test_a_video_with_too_few_pixels_fails(client, simulator, files):
    group_id = verified_group(client, simulator)
    source = InlineSource(files[0] / "tiny.mp4", "video/mp4")
    failed = settle(
        client, simulator, upload(client, group_id, source, asset_type=AssetType.VIDEO), group_id
    )
    assert failed.error_code == "PixelCountTooSmall"
    assert "Re-encode" in explain(failed.error_code)[1]


def test_a_url_the_upstream_cannot_fetch(client, simulator, files):
    group_id = verified_group(client, simulator)
    with pytest.raises(errors.DownloadFailed) as caught:
        upload(client, group_id, UrlSource(f"{files[1]}/missing.jpg"))
    assert caught.value.code == "InvalidParameter.DownloadFailed"
    simulator.switches(download_failure="asset_failed")
    asset_id = upload(client, group_id, UrlSource(f"{files[1]}/missing.jpg"), name="late")
    assert (
        settle(client, simulator, asset_id, group_id).error_code
        == "InvalidParameter.DownloadFailed"
    )


def test_another_credentials_groups_and_assets_are_not_found(
    make_client, adapter, simulator, files
):
    mine, theirs = make_client(adapter), make_client(adapter, "other")
    group_id = verified_group(mine, simulator)
    asset_id = upload(mine, group_id, UrlSource(f"{files[1]}/face.jpg"))
    with pytest.raises(errors.GroupNotFound) as caught:
        upload(theirs, group_id, UrlSource(f"{files[1]}/face.jpg"), check_existing=False)
    assert "token" in caught.value.explanation
    with pytest.raises(errors.AssetNotFound):
        theirs.get_asset(asset_id=asset_id)


def test_get_asset_falls_back_to_listing_when_liveness_assets_are_hidden(client, simulator, files):
    simulator.switches(liveness_assets_visible_to_get_asset=False)
    group_id = verified_group(client, simulator)
    asset_id = upload(client, group_id, UrlSource(f"{files[1]}/face.jpg"))
    assert client.get_asset(asset_id=asset_id, group_id=group_id).id == asset_id
    with pytest.raises(errors.AssetNotFound):
        client.get_asset(asset_id=asset_id)


def test_ready_assets_reported_inactive_are_terminal_but_not_usable(client, simulator, files):
    simulator.switches(report_inactive_instead_of_active=True)
    group_id = verified_group(client, simulator)
    done = settle(
        client, simulator, upload(client, group_id, UrlSource(f"{files[1]}/face.jpg")), group_id
    )
    assert done.status.is_inactive and done.status.is_terminal and not done.status.is_active


def test_a_reused_name_returns_the_existing_asset(client, adapter, simulator, files):
    group_id = verified_group(client, simulator)
    source = UrlSource(f"{files[1]}/face.jpg")
    first = upload(client, group_id, source)
    assert upload(client, group_id, source) == first
    simulator.switches(duplicate_name_behaviour="reject")
    assert upload(client, group_id, source, check_existing=False) == first
    assert len(simulator.assets(owner(adapter), name="upload-1")) == 1


def test_a_duplicate_name_sent_blindly_makes_a_phantom(client, simulator, files):
    """What check_existing protects against: the upstream answers an Id that never exists."""
    group_id = verified_group(client, simulator)
    source = UrlSource(f"{files[1]}/face.jpg")
    upload(client, group_id, source)
    phantom = upload(client, group_id, source, check_existing=False)
    with pytest.raises(errors.AssetNotFound):
        client.get_asset(asset_id=phantom)


# --- Groups --------------------------------------------------------------------------------------


def test_groups_list_and_delete_with_their_assets(client, simulator, files):
    simulator.switches(liveness_groups_in_list=True)
    group_id = verified_group(client, simulator)
    asset_id = upload(client, group_id, UrlSource(f"{files[1]}/face.jpg"))
    [group] = client.list_groups(group_type="LivenessFace").items
    assert (group.id, group.group_type) == (group_id, "LivenessFace")
    client.delete_group(group_id=group_id)
    with pytest.raises(errors.AssetNotFound):
        client.get_asset(asset_id=asset_id)
    with pytest.raises(errors.GroupNotFound):
        upload(client, group_id, UrlSource(f"{files[1]}/face.jpg"), name="again")
    with pytest.raises(errors.GroupNotFound):
        client.delete_group(group_id=group_id)


def test_liveness_groups_may_be_missing_from_the_group_list(client, simulator):
    verified_group(client, simulator)
    assert client.list_groups().items == ()


# --- Anyfast error shapes ------------------------------------------------------------------------


def anyfast_raw(simulator: Simulator, action: str, body: dict, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.post(
        f"{simulator.url}/volc/asset/{action}", json=body, headers=headers, timeout=5
    )


def test_the_gateway_shape_for_a_bad_token(make_client, simulator):
    raw = anyfast_raw(simulator, "ListAssets", {}, "sk-nobody").json()
    assert set(raw["error"]) >= {"type", "code", "message"}
    client = make_client(Adapter.ANYFAST, api_token="sk-nobody-at-all")
    with pytest.raises(errors.InvalidCredentials) as caught:
        client.check_credentials()
    assert "sk-nobody-at-all" not in str(caught.value)


@pytest.mark.parametrize("nested", ["envelope", "bare"])
def test_the_relayed_shape_with_the_upstream_error_inside(make_client, simulator, nested):
    simulator.switches(relayed_error_format=nested)
    raw = anyfast_raw(simulator, "DeleteAssetGroup", {"Id": "group-nope"}, TOKENS["main"][0]).json()
    assert raw["data"] is None and json.loads(raw["message"])
    with pytest.raises(errors.GroupNotFound) as caught:
        make_client(Adapter.ANYFAST).delete_group(group_id="group-nope")
    assert caught.value.code == "NotFound.group_id"
    if nested == "envelope":
        assert caught.value.request_id


def test_the_plain_shape_for_the_gateways_own_checks(simulator):
    raw = anyfast_raw(
        simulator, "CreateVisualValidateSession", {"CallbackURL": CALLBACK}, TOKENS["aigc"][0]
    )
    assert raw.json() == {"code": 400, "message": "GroupType must be one of [AIGC]"}


# --- BytePlus signing ----------------------------------------------------------------------------


def signed_post(
    simulator: Simulator, action: str, body: bytes, *, sent: bytes | None = None, who: str = "main"
):
    ak, sk, _ = KEYPAIRS[who]
    host = simulator.url.removeprefix("http://")
    headers = signing.sign(
        credentials=signing.Credentials(ak, sk, "ap-southeast-1"),
        method="POST",
        host=host,
        path="/",
        query={"Action": action, "Version": "2024-01-01"},
        body_sha256=signing.sha256_hex(body),
        now=datetime.now(UTC),
    )
    url = f"{simulator.url}/?Action={action}&Version=2024-01-01"
    return requests.post(url, data=body if sent is None else sent, headers=headers, timeout=5)


def test_our_signature_is_accepted_and_a_tampered_body_is_not(simulator):
    body = b'{"PageNumber":1,"PageSize":1}'
    assert signed_post(simulator, "ListAssets", body).status_code == 200
    refused = signed_post(simulator, "ListAssets", body, sent=b'{"PageNumber":1,"PageSize":2}')
    assert refused.json()["ResponseMetadata"]["Error"]["Code"] == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("changes", "error_class"),
    [
        ({"secret_access_key": "not-the-secret"}, errors.SignatureRejected),
        ({"access_key_id": "AKLTnobody"}, errors.SignatureRejected),
        ({"region": "cn-beijing"}, errors.SignatureRejected),
    ],
)
def test_wrongly_signed_requests_are_refused(make_client, changes, error_class):
    with pytest.raises(error_class) as caught:
        make_client(Adapter.BYTEPLUS, **changes).check_credentials()
    assert "secret access key" in caught.value.fix
    assert "not-the-secret" not in str(caught.value)


def test_a_key_without_the_policy_is_denied(make_client):
    with pytest.raises(errors.AccessDenied) as caught:
        make_client(Adapter.BYTEPLUS, "denied").check_credentials()
    assert caught.value.request_id
    assert "policy" in caught.value.fix


# --- Faults --------------------------------------------------------------------------------------


def test_reads_ride_out_errors_rate_limits_and_hangs(client, adapter, simulator):
    simulator.fault(action="ListAssets", kind="error", status=503, count=2)
    assert client.list_assets().total_count == 0
    simulator.fault(action="ListAssets", kind="rate_limit", retry_after=0.2)
    assert client.list_assets().total_count == 0
    simulator.fault(action="ListAssets", kind="hang", seconds=2)
    assert client.list_assets().total_count == 0
    statuses = list(UpstreamCall.objects.order_by("id").values_list("http_status", flat=True))
    assert statuses == [503, 503, 200, 429, 200, None, 200]
    assert UpstreamCall.objects.filter(error_code="Local.ReadTimeout").count() == 1
    # The hung request is logged by the simulator only when its hang ends: don't count it here.
    assert len(simulator.requests(action="ListAssets")) >= 6


def test_a_trickling_answer_is_cut_off_and_retried(make_client, adapter, simulator, settings):
    settings.UPSTREAM_TOTAL_TIMEOUT = 0.4
    client = make_client(adapter)
    simulator.fault(action="ListAssetGroups", kind="slow_body", seconds=1.5)
    client.list_groups()
    assert UpstreamCall.objects.filter(error_code="Local.SlowAnswer").count() == 1


def test_a_create_committed_then_dropped_leaves_exactly_one_asset(
    client, adapter, simulator, files
):
    group_id = verified_group(client, simulator)
    simulator.fault(action="CreateAsset", kind="commit_then_drop", count=1)
    asset_id = upload(client, group_id, UrlSource(f"{files[1]}/face.jpg"))
    [only] = simulator.assets(owner(adapter), name="upload-1")
    assert only["id"] == asset_id
    assert len(simulator.requests(action="CreateAsset")) == 1
    assert settle(client, simulator, asset_id, group_id).status.is_active


def test_a_create_refused_with_503_is_sent_again_once(client, adapter, simulator, files):
    group_id = verified_group(client, simulator)
    simulator.fault(action="CreateAsset", kind="error", status=503, count=1)
    asset_id = upload(client, group_id, UrlSource(f"{files[1]}/face.jpg"))
    assert [a["id"] for a in simulator.assets(owner(adapter))] == [asset_id]
    assert len(simulator.requests(action="CreateAsset")) == 2


def test_a_create_that_hangs_is_left_to_the_callers_retry(client, adapter, simulator, files):
    group_id = verified_group(client, simulator)
    simulator.fault(action="CreateAsset", kind="hang", seconds=2, count=1)
    source = InlineSource(files[0] / "face.jpg", "image/jpeg")
    with pytest.raises(errors.UpstreamUnavailable) as caught:
        upload(client, group_id, source)
    assert caught.value.code == "Local.ReadTimeout"
    asset_id = upload(client, group_id, source)
    assert [a["id"] for a in simulator.assets(owner(adapter))] == [asset_id]


def test_a_create_that_keeps_failing_goes_back_to_the_caller_and_its_retry_is_safe(
    client, adapter, simulator, files
):
    group_id = verified_group(client, simulator)
    simulator.fault(action="CreateAsset", kind="commit_then_drop", count=1)
    simulator.fault(action="ListAssets", kind="error", status=503, count=10)
    with pytest.raises(errors.UpstreamUnavailable):
        upload(client, group_id, UrlSource(f"{files[1]}/face.jpg"))
    simulator.control("DELETE", "faults")
    # The caller's task retries later with the same name: the committed asset is found.
    asset_id = upload(client, group_id, UrlSource(f"{files[1]}/face.jpg"))
    assert [a["id"] for a in simulator.assets(owner(adapter))] == [asset_id]
    # A dropped connection is logged just after the drop: give the log a moment.
    deadline = time.monotonic() + 3
    while not simulator.requests(action="CreateAsset") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(simulator.requests(action="CreateAsset")) == 1


def test_sessions_are_not_retried(client, simulator):
    simulator.fault(action="CreateVisualValidateSession", kind="error", status=503, count=1)
    with pytest.raises(errors.UpstreamUnavailable):
        client.start_verification(callback_url=CALLBACK)
    assert len(simulator.requests(action="CreateVisualValidateSession")) == 1


# --- The check command ---------------------------------------------------------------------------


def test_the_check_command_passes_and_fails_in_plain_words(make_client):
    make_client(Adapter.ANYFAST)
    make_client(Adapter.BYTEPLUS)
    out = io.StringIO()
    call_command("upstream_check", stdout=out)
    assert out.getvalue().count("OK") == 2
    make_client(Adapter.ANYFAST, "aigc")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("upstream_check", stdout=out)
    assert "Byteplus-Direct" in out.getvalue()

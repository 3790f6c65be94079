"""How file bytes travel: inline data URIs and multipart, streamed from disk with exact lengths."""

import base64
import email.parser
import hashlib
import json
import tracemalloc

import pytest

from tests.upstream.fakeserver import Step
from upstream import errors
from upstream.bodies import json_with_inline_file, multipart
from upstream.factory import client_for
from upstream.types import AssetType, InlineSource, MultipartSource

EMPTY_PAGE = Step(200, {"PageNumber": 1, "PageSize": 100, "TotalCount": 0, "Items": []})


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "face.jpg"
    path.write_bytes(bytes(range(256)) * 40 + b"tail")  # not a multiple of 3
    return path


@pytest.mark.parametrize("size", [0, 1, 2, 3, 196607, 196608, 196609, 400001])
def test_inline_bodies_are_exact_json_with_a_data_uri(tmp_path, size):
    path = tmp_path / "f.bin"
    data = hashlib.sha256(b"x").digest() * (size // 32 + 1)
    path.write_bytes(data[:size])
    body = json_with_inline_file(
        {"Name": 'quote " and @@ slot', "model": "volc-asset"},
        key="URL",
        path=path,
        content_type="image/png",
    )
    raw = body.open().read()
    assert len(raw) == len(body)
    payload = json.loads(raw)
    assert payload["Name"] == 'quote " and @@ slot'
    assert payload["URL"] == "data:image/png;base64," + base64.b64encode(data[:size]).decode()
    assert body.sha256_hex() == hashlib.sha256(raw).hexdigest()


def test_multipart_bodies_parse_as_forms(photo):
    body = multipart(
        {"GroupId": "group-1", "Name": "n"},
        name="file",
        path=photo,
        filename='a"b.jpg',
        content_type="image/jpeg",
    )
    raw = body.open().read()
    assert len(raw) == len(body)
    message = email.parser.BytesParser().parsebytes(
        f"Content-Type: {body.content_type}\r\n\r\n".encode() + raw
    )
    parts = {
        part.get_param("name", header="content-disposition"): part
        for part in message.walk()
        if not part.is_multipart()
    }
    assert parts["GroupId"].get_payload() == "group-1"
    assert parts["file"].get_payload(decode=True) == photo.read_bytes()
    assert parts["file"].get_content_type() == "image/jpeg"


def test_anyfast_sends_inline_files_as_data_uris(anyfast, fake, photo):
    fake.script(EMPTY_PAGE, Step(200, {"Id": "asset-1"}))
    source = InlineSource(photo, "image/jpeg")
    anyfast.create_asset(group_id="g", name="n", asset_type=AssetType.IMAGE, source=source)
    sent = fake.requests[1].json()
    assert sent["URL"].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(sent["URL"].split(",", 1)[1]) == photo.read_bytes()
    assert sent["model"] == "volc-asset"


def test_anyfast_sends_multipart_with_the_billing_model(anyfast, fake, photo):
    fake.script(EMPTY_PAGE, Step(200, {"Id": "asset-1"}))
    source = MultipartSource(photo, "video/mp4", "clip.mp4")
    anyfast.create_asset(group_id="g", name="n", asset_type=AssetType.VIDEO, source=source)
    seen = fake.requests[1]
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="model"\r\n\r\nvolc-asset-video\r\n' in seen.body
    assert photo.read_bytes() in seen.body


def test_byteplus_signs_inline_bodies_by_their_hash(byteplus, fake, photo):
    fake.script(
        Step(200, {"ResponseMetadata": {}, "Result": {"Items": [], "TotalCount": 0}}),
        Step(200, {"ResponseMetadata": {"RequestId": "r"}, "Result": {"Id": "asset-1"}}),
    )
    source = InlineSource(photo, "image/jpeg")
    assert (
        byteplus.create_asset(group_id="g", name="n", asset_type=AssetType.IMAGE, source=source)
        == "asset-1"
    )
    seen = fake.requests[1]
    assert seen.headers["x-content-sha256"] == hashlib.sha256(seen.body).hexdigest()
    assert seen.json()["ProjectName"] == "default"


def test_byteplus_refuses_multipart_before_calling(byteplus, fake, photo):
    with pytest.raises(errors.SourceNotSupported):
        byteplus.create_asset(
            group_id="g",
            name="n",
            asset_type=AssetType.IMAGE,
            source=MultipartSource(photo, "image/jpeg", "a.jpg"),
        )
    assert fake.requests == []


def test_inline_bodies_over_the_cap_are_refused_before_calling(
    fast_settings, anyfast_account, fake, photo
):
    fast_settings.UPSTREAM_INLINE_MAX_BYTES = 10_000
    client = client_for(anyfast_account)
    with pytest.raises(errors.SourceTooLarge) as caught:
        client.create_asset(
            group_id="g",
            name="n",
            asset_type=AssetType.IMAGE,
            source=InlineSource(photo, "image/jpeg"),
        )
    assert "URL" in caught.value.fix
    assert fake.requests == []


def test_a_large_upload_streams_instead_of_loading_the_file(anyfast, fake, tmp_path):
    video = tmp_path / "big.mp4"
    chunk = hashlib.sha256(b"v").digest() * 32768  # 1 MiB
    with video.open("wb") as handle:
        for _ in range(24):
            handle.write(chunk)
    fake.keep_bodies = False
    fake.script(EMPTY_PAGE, Step(200, {"Id": "asset-big"}))
    tracemalloc.start()
    try:
        source = MultipartSource(video, "video/mp4", "big.mp4")
        anyfast.create_asset(group_id="g", name="n", asset_type=AssetType.VIDEO, source=source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The fake server shares this process but only hashes; 24 MiB never sits in memory.
    assert peak < 8 * 1024 * 1024
    assert fake.requests[1].length > 24 * 1024 * 1024

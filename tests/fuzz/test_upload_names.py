"""Hostile file names through both upload endpoints: an answer in words, never a 500, and never a
byte written outside MEDIA_ROOT. Bodies are built by hand: Django's test client would strip the
path from a name before sending it, and a hostile client doesn't."""

import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from hypothesis import event, given
from hypothesis import strategies as st

from assets.models import Asset
from tests.fuzz.conftest import examples, files_under, rolled_back

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

LEAF = st.sampled_from(["a.jpg", "portrait.JPG", "x.png", "v.mp4", "voice.wav", "file", ".jpg"])
SEGMENT = st.sampled_from(["..", ".", "", "etc", "....", "..%2f", "%2e%2e", "&#47;..", "media"])
names = st.one_of(
    st.text(max_size=300),
    st.builds(lambda parts, leaf: "/".join([*parts, leaf]), st.lists(SEGMENT, max_size=8), LEAF),
    st.builds(lambda parts, leaf: "\\".join([*parts, leaf]), st.lists(SEGMENT, max_size=8), LEAF),
    st.builds(lambda leaf: "/etc/cron.d/" + leaf, LEAF),
    st.builds(lambda drive, leaf: f"{drive}:\\Windows\\Temp\\{leaf}", st.sampled_from("CZ"), LEAF),
    st.builds(lambda leaf: "\\\\fileserver\\share\\" + leaf, LEAF),
    st.builds(lambda leaf, tail: f"{leaf}\x00{tail}", LEAF, st.sampled_from([".php", "/../x", ""])),
    st.builds(lambda n, ch: ch * n + ".jpg", st.integers(200, 5000), st.sampled_from("aé😀/.")),
    st.builds(
        lambda mark, leaf: mark + leaf,
        st.sampled_from(["\u202e", "\u200f", "\u2066", "\u061c", "\ufeff"]),
        st.sampled_from(["gpj.exe", "a.jpg", "\u202egnp.js"]),
    ),
    st.sampled_from(
        [
            *[".", "..", "...", " ", "CON", "nul.jpg", "aux", "<script>alert(1)</script>.jpg"],
            *["&#47;&#46;&#46;&#47;x.jpg", 'a".jpg', "a\r\nContent-Type: text/html.jpg"],
        ]
    ),
)
# How the name travels: as browsers send it, as RFC 5987 says, or as bytes that aren't UTF-8.
encodings = st.sampled_from(["browser", "rfc5987", "latin1"])


def disposition(name: str, how: str) -> bytes:
    if how == "rfc5987":
        return f"filename*=UTF-8''{quote(name, safe='')}".encode()
    escaped = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    raw = escaped.encode("latin-1", "replace") if how == "latin1" else escaped.encode()
    return b'filename="' + raw + b'"'


def multipart(name: str, how: str, body: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    payload = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="files"; '
        + disposition(name, how)
        + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return payload, f"multipart/form-data; boundary={boundary}"


STORED = re.compile(r"assets/\d{4}/\d{2}/[0-9a-f]{32}")


@pytest.fixture
def sandbox(tmp_path, settings):
    """MEDIA_ROOT deep inside a watched folder, so a name that climbs out lands where we look;
    uploads go through temporary files (the path big files take) in a watched folder too."""
    media_root = tmp_path / "a" / "b" / "c" / "d" / "e" / "media"
    media_root.mkdir(parents=True)
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.MEDIA_ROOT = str(media_root)
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    return tmp_path


def literal_targets(name: str, media_root: Path) -> list[Path]:
    """Where a server that trusted the name would have written it."""
    name = name.split("\x00")[0].replace("\\", "/")
    if not name.strip() or len(name) > 1000:
        return []
    return [Path(name), media_root / name, media_root / "assets" / name, Path("/tmp") / name]


def stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except (OSError, ValueError):
        return None
    return info.st_mtime_ns, info.st_size


def check_upload(client, url: str, sandbox: Path, name: str, how: str, body: bytes) -> None:
    media_root = Path(django_settings.MEDIA_ROOT)
    before = files_under(sandbox)
    targets = {target: stamp(target) for target in literal_targets(name, media_root)}
    assets_before = set(Asset.objects.values_list("pk", flat=True))
    payload, content_type = multipart(name, how, body)
    response = client.generic(
        "POST", url, payload, content_type=content_type, headers={"Accept": "application/json"}
    )
    assert response.status_code in (201, 400, 409, 422), response.content
    event(f"HTTP {response.status_code}")
    if response["Content-Type"].startswith("application/json"):
        assert "error" in response.json() or "assets" in response.json()
    else:  # Django refused to parse the body at all (e.g. a part's headers over 1 KB)
        assert response.status_code == 400

    new_files = files_under(sandbox) - before
    assert not files_under(sandbox / "spool"), "a spooled upload was left behind"
    for path in new_files:
        assert path.is_relative_to(media_root), f"{path} written outside MEDIA_ROOT"
        assert STORED.fullmatch(path.relative_to(media_root).as_posix()), path
    for target, was in targets.items():
        assert stamp(target) == was, f"{target} was written"

    created = Asset.objects.exclude(pk__in=assets_before)
    if response.status_code in (201, 422):
        asset = created.get()
        shown = response.json()["assets"][0]["name"]
        assert shown == asset.original_name
        assert asset.original_name not in ("", ".", "..")
        assert len(asset.original_name) <= 255
        assert not set(asset.original_name) & {"/", "\\", "\x00"}, asset.original_name
        if asset.file:
            assert Path(asset.file.path).resolve().is_relative_to(media_root.resolve())
            assert Path(asset.file.path) in new_files
        else:
            assert asset.status == Asset.Status.REJECTED and not new_files
    else:
        assert not created.exists() and not new_files


@examples(1.0)
@given(name=names, how=encodings, real=st.booleans(), junk=st.binary(max_size=512))
def test_staff_upload_names(staff_client, alice, media, sandbox, name, how, real, junk):
    body = media.image((800, 1000)).read_bytes() if real else junk
    with rolled_back():
        check_upload(staff_client, f"/groups/{alice.group.pk}/upload/", sandbox, name, how, body)
        page = staff_client.get(f"/groups/{alice.group.pk}/")
        assert page.status_code == 200
        assert b"<script>alert(1)" not in page.content


@examples(0.7)
@given(name=names, how=encodings, real=st.booleans(), junk=st.binary(max_size=512))
def test_person_upload_names(client, alice, media, sandbox, name, how, real, junk):
    body = media.image((800, 1000)).read_bytes() if real else junk
    with rolled_back():
        check_upload(client, f"/p/{alice.token}/upload/", sandbox, name, how, body)
        page = client.get(f"/p/{alice.token}/upload/")
        assert page.status_code == 200
        assert b"<script>alert(1)" not in page.content

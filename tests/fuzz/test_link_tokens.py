"""Made-up and damaged keys on every URL a person or the upstream's page can reach: a page that
says the link doesn't work (404, 410, 429) or a refusal (403, 405), never a 500, and nothing
about anyone's session changes."""

import string
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from django.utils import timezone
from hypothesis import assume, event, given
from hypothesis import strategies as st

from tests.fuzz.conftest import examples, rolled_back
from verification.models import Consent, Invitation, LivenessAttempt, VerificationSession

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

URLSAFE = string.ascii_letters + string.digits + "-_"
keys = st.one_of(
    st.text(max_size=120),
    st.text(alphabet=URLSAFE, min_size=40, max_size=46),
    st.binary(max_size=64).map(lambda raw: raw.decode("latin-1")),
    st.integers().map(str),
    st.integers(95, 5000).map(lambda n: "A" * n),
    st.sampled_from(["", ".", "..", "%00", "\x00", "' OR '1'='1", "<script>", "ref-alice"]),
)
# Damage to a real key: (operation, position, character).
damage = st.tuples(
    st.sampled_from(["flip", "cut", "append", "upper", "nul"]),
    st.integers(0, 60),
    st.sampled_from(["A", "_", "-", "0", "é", "/", "%", "\x00"]),
)
queries = st.dictionaries(
    st.sampled_from(["resultCode", "bytedToken", "lang", "next", "algorithmBaseRespCode"]),
    st.one_of(st.text(max_size=60), st.sampled_from(["10000", "10001", "zh-hant", "en"])),
    max_size=4,
)
ROUTES = [
    ("GET", "/p/{}/"),
    ("POST", "/p/{}/consent/"),
    ("POST", "/p/{}/start/"),
    ("GET", "/p/{}/upload/"),
    ("POST", "/p/{}/upload/"),
    ("GET", "/p/{}/assets/{asset}/status/"),
    ("GET", "/p/{}/withdraw/"),
    ("POST", "/p/{}/withdraw/"),
    ("POST", "/p/{}/renew/"),
    ("GET", "/p/{}/receipt.json"),
    ("GET", "/p/{}/receipt.pdf"),
    ("GET", "/verified/{}/"),
    ("POST", "/verified/{}/retry/"),
]


def damaged(key: str, how: tuple[str, int, str]) -> str:
    operation, at, char = how
    at %= len(key) + 1
    if operation == "flip":
        return key[:at] + char + key[at + 1 :]
    if operation == "cut":
        return key[:at]
    if operation == "append":
        return key + char * (at + 1)
    if operation == "upper":
        return key.swapcase()
    return key[:at] + "\x00" + key[at:]


def kill(alice, how: str | None) -> None:
    invitations = Invitation.objects.filter(session=alice.session)
    if how == "revoked":
        invitations.update(revoked_at=timezone.now())
    elif how == "expired":
        invitations.update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        VerificationSession.objects.filter(pk=alice.session.pk).update(status="cancelled")


def snapshot(alice) -> tuple[object, ...]:
    session = VerificationSession.objects.get(pk=alice.session.pk)
    return (
        session.status,
        Consent.objects.filter(session=session, withdrawn_at__isnull=True).count(),
        LivenessAttempt.objects.count(),
        list(Invitation.objects.values_list("pk", "opened_at", "revoked_at")),
    )


def visit(client, method: str, route: str, key: str, asset: int, query: dict[str, str]):
    path = route.format(quote(key, safe=""), asset=asset)
    if query:
        path += "?" + urlencode(query)
    data = {"signature_name": "Alice Example", "agree": "on"} if method == "POST" else None
    return client.generic(method, path, urlencode(data or {}), "application/x-www-form-urlencoded")


@examples(1.0)
@given(
    route=st.sampled_from(ROUTES),
    made_up=keys,
    real_damage=st.one_of(st.none(), damage),
    use_ref=st.booleans(),
    dead=st.sampled_from([None, None, "revoked", "expired", "cancelled"]),
    query=queries,
)
def test_made_up_damaged_and_dead_keys_are_refused(
    client, alice, route, made_up, real_damage, use_ref, dead, query
):
    method, pattern = route
    real = alice.attempt.ref if use_ref else alice.token
    key = damaged(real, real_damage) if real_damage else made_up
    if dead and pattern.startswith("/p/"):
        key = alice.token  # a real link that no longer works
    assume(key != alice.attempt.ref and (key != alice.token or dead))
    with rolled_back():
        if key == alice.token:
            kill(alice, dead)
        before = snapshot(alice)
        response = visit(client, method, pattern, key, alice.asset.pk, query)
        event(f"HTTP {response.status_code}")
        assert response.status_code in (403, 404, 405, 410, 429), (key, response.status_code)
        assert snapshot(alice) == before

"""Hostile form data on the staff person form, the start-session form and the person's consent
form: an answer with a message (200, 302, 400, 409), never a 500, and nothing half-saved."""

from urllib.parse import urlencode

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.fuzz.conftest import examples, rolled_back
from verification.models import (
    AuthorizingPerson,
    Consent,
    Invitation,
    LivenessAttempt,
    VerificationSession,
)

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

scalar = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.integers(200, 300_000).map(lambda n: "x" * n),
    st.integers().map(str),
    st.sampled_from(["", " ", "\x00", "on", "off", "true", "0", "-1", "1e9", "null", "[]"]),
)
# A list where a scalar is expected: the field appears several times in the body.
value = st.one_of(scalar, st.lists(scalar, min_size=2, max_size=4))


def form(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict[str, object]]:
    """Some of the fields (missing ones left out), each a plausible or a hostile value."""
    return st.fixed_dictionaries(
        {}, optional={name: st.one_of(good, value) for name, good in fields.items()}
    ).flatmap(lambda chosen: st.just(chosen) | st.just({**chosen, "junk": "1"}))


def post(client, path: str, data: dict[str, object]):
    body = urlencode(data, doseq=True)
    return client.generic("POST", path, body, "application/x-www-form-urlencoded")


def shows_a_message(response) -> bool:
    return b"errorlist" in response.content or b'class="error' in response.content


PERSON_FIELDS = {
    "full_name": st.sampled_from(["Frank Example", "  Frank   Example ", "Ｆｒａｎｋ"]),
    "email": st.sampled_from(["frank@example.com", "frank@", "ﬀ@example.com"]),
    "phone": st.sampled_from(["+14155550123", "+1 (415) 555-0123", "0044 20", "+" + "9" * 20]),
    "language": st.sampled_from(["en", "zh-hans", "zh-hant", "xx"]),
}


@examples(0.8)
@given(data=form(PERSON_FIELDS), edit=st.booleans())
def test_the_person_form(staff_client, alice, data, edit):
    with rolled_back():
        before = list(AuthorizingPerson.objects.values())
        path = f"/persons/{alice.person.pk}/edit/" if edit else "/persons/new/"
        response = post(staff_client, path, data)
        event(f"HTTP {response.status_code}")
        assert response.status_code in (200, 302, 400), response.status_code
        after = list(AuthorizingPerson.objects.values())
        if response.status_code != 302:
            assert after == before, "a refused form changed a person"
            # An entirely empty body leaves the form unbound (`request.POST or None`): shown again.
            silent_ok = not urlencode(data, doseq=True)
            assert response.status_code == 400 or shows_a_message(response) or silent_ok
            return
        changed = [row for row in after if row not in before]
        assert len(changed) == 1 and len(after) == len(before) + (0 if edit else 1)
        person = AuthorizingPerson.objects.get(pk=changed[0]["id"])
        assert person.full_name == " ".join(person.full_name.split()) and person.full_name
        assert len(person.full_name) <= 200 and "\x00" not in person.full_name
        assert person.phone == "" or (person.phone.startswith("+") and len(person.phone) <= 16)
        assert person.language in ("en", "zh-hans", "zh-hant")


@examples(0.8)
@given(
    data=st.data(),
    kinds=st.one_of(
        st.lists(st.sampled_from(["image", "video", "audio"]), max_size=3), st.just(None), value
    ),
)
def test_the_start_session_form(staff_client, person, account, project, consent_text, data, kinds):
    good = {
        "account": st.sampled_from([str(account.pk), "0", "99999999999999999999999", "abc"]),
        "project": st.sampled_from([str(project.pk), str(-project.pk), "１"]),
        "consent_text": st.sampled_from([str(consent_text.pk), "1.0", " "]),
        "channel": st.sampled_from(["email", "sms", "in_person", "fax", "EMAIL"]),
    }
    fields = data.draw(form(good))
    if kinds is not None:
        fields["media_kinds"] = kinds
    with rolled_back():
        sessions = VerificationSession.objects.count()
        invitations = Invitation.objects.count()
        response = post(staff_client, f"/persons/{person.pk}/verify/", fields)
        event(f"HTTP {response.status_code}")
        assert response.status_code in (200, 302, 400, 409), response.status_code
        created = VerificationSession.objects.count() - sessions
        assert created in (0, 1)
        if not created:
            assert Invitation.objects.count() == invitations, "an invitation without a session"
            silent_ok = not urlencode(fields, doseq=True)  # unbound, as for the person form
            assert response.status_code in (400, 409) or shows_a_message(response) or silent_ok
            return
        session = VerificationSession.objects.order_by("-pk")[0]
        assert session.media_kinds and set(session.media_kinds) <= {"image", "video", "audio"}
        assert session.channel in ("email", "sms", "in_person")
        assert Invitation.objects.filter(session=session).count() == 1


NAME_VARIANTS = st.sampled_from(
    [
        "Dana Example",
        "dana example",
        "  DANA   example ",
        "Ｄａｎａ Ｅｘａｍｐｌｅ",
        "Dana Exampl",
        "Dana",
    ]
)


CONSENT_FIELDS = {
    "signature_name": NAME_VARIANTS,
    "agree": st.sampled_from(["on", "", "false", "0", "yes"]),
    "lang": st.sampled_from(["en", "zh-hans", "zh-hant", "xx", ""]),
}
# Half the time a genuine consent (name typed some acceptable way, box ticked), plus noise.
genuine = st.fixed_dictionaries(
    {"signature_name": NAME_VARIANTS, "agree": st.just("on")},
    optional={"lang": CONSENT_FIELDS["lang"], "junk": value},
)


@examples(1.0)
@given(data=st.one_of(genuine, form(CONSENT_FIELDS)))
def test_the_consent_form(client, fresh_link, data):
    with rolled_back():
        token, session = fresh_link()
        attempts = LivenessAttempt.objects.count()
        response = post(client, f"/p/{token}/consent/", data)
        event(f"HTTP {response.status_code}")
        assert response.status_code in (302, 400, 409), response.status_code
        session.refresh_from_db()
        consents = Consent.objects.filter(session=session)
        if response.status_code == 302:
            consent = consents.get()
            assert session.status == VerificationSession.Status.VERIFYING
            assert LivenessAttempt.objects.count() == attempts + 1
            assert consent.signature_name == " ".join(consent.signature_name.split())
        elif response.status_code == 400:
            assert not consents.exists(), "a refused consent form stored a consent"
            assert session.status == VerificationSession.Status.INVITED
            assert LivenessAttempt.objects.count() == attempts
            assert shows_a_message(response) or not urlencode(data, doseq=True)
        else:
            # Consent stands; only the upstream session could not be started.
            assert consents.count() == 1
            assert LivenessAttempt.objects.count() == attempts

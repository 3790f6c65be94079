import contextlib
import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.transaction import TransactionManagementError
from django.test import RequestFactory

from ledger.chain import GENESIS_HASH, HASHED_FIELDS, event_hash
from ledger.models import AppendOnlyError, AuditEvent, LedgerHead
from ledger.services import Actor, LedgerCorrupted, record
from ledger.testing import triggers_dropped

pytestmark = pytest.mark.django_db


def test_it_chains_each_event_to_the_previous_one():
    first = record(action="person.created", actor=Actor.system())
    second = record(action="consent.given", actor=Actor.person(3))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert second.hash == event_hash({name: getattr(second, name) for name in HASHED_FIELDS})
    head = LedgerHead.objects.get()
    assert (head.seq, head.hash) == (2, second.hash)


def test_a_staff_actor_is_the_signed_in_user():
    user = get_user_model().objects.create_user(username="ana", password="x" * 20)
    event = record(action="verification.started", actor=Actor.staff(user))
    assert (event.actor_kind, event.actor_id, event.actor_label) == ("staff", str(user.pk), "ana")


def test_a_staff_actor_must_be_signed_in():
    with pytest.raises(ValueError, match="signed-in"):
        Actor.staff(AnonymousUser())


def test_a_person_actor_is_their_own_subject_person():
    event = record(action="consent.given", actor=Actor.person(42))
    assert (event.actor_kind, event.actor_id, event.actor_label) == ("person", "42", "")
    assert event.person_id == 42
    assert list(AuditEvent.objects.for_person(42)) == [event]


def test_a_system_actor_carries_its_label():
    event = record(action="verification.expired", actor=Actor.system("worker.poll_sessions"))
    assert (event.actor_kind, event.actor_id, event.actor_label) == (
        "system",
        "",
        "worker.poll_sessions",
    )


def test_the_subject_is_named_by_model_label_and_primary_key():
    user = get_user_model().objects.create_user(username="ana", password="x" * 20)
    event = record(action="staff.created", actor=Actor.system(), subject=user, person_id=9)
    assert (event.subject_type, event.subject_id, event.person_id) == ("auth.user", str(user.pk), 9)
    assert list(AuditEvent.objects.for_subject(user)) == [event]


def test_an_unsaved_subject_is_refused():
    with pytest.raises(ValueError, match="saved"):
        record(action="staff.created", actor=Actor.system(), subject=get_user_model()())


@pytest.mark.parametrize(
    "action", ["consent", "Consent.given", "consent..given", "consent.given!", ""]
)
def test_the_action_must_be_a_dotted_name(action):
    with pytest.raises(ValueError, match="dotted"):
        record(action=action, actor=Actor.system())


def test_it_takes_the_address_and_user_agent_from_the_request():
    request = RequestFactory().post(
        "/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Phone\x00Browser" + "x" * 600
    )
    event = record(action="consent.given", actor=Actor.person(1), request=request)
    assert event.ip == "203.0.113.9"
    assert event.user_agent.startswith("PhoneBrowserxxx")
    assert len(event.user_agent) == 512


def test_it_ignores_x_forwarded_for_unless_proxies_are_trusted():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert record(action="link.opened", actor=Actor.person(1), request=request).ip == "10.0.0.2"


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [(1, "192.0.2.3"), (2, "198.51.100.2"), (3, "203.0.113.1"), (9, "203.0.113.1")],
)
def test_it_takes_the_hop_the_trusted_proxies_saw(settings, trusted, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    settings.FORWARDED_ALLOW_IPS = ["10.0.0.0/8"]  # where the proxy connects from
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.2,192.0.2.3"
    )
    assert record(action="link.opened", actor=Actor.person(1), request=request).ip == expected


@pytest.mark.parametrize(
    ("remote", "expected"),
    [("::ffff:192.0.2.1", "192.0.2.1"), ("2001:0DB8:0:0::1", "2001:db8::1"), ("garbage", "")],
)
def test_it_spells_each_address_one_way(remote, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    assert record(action="link.opened", actor=Actor.person(1), request=request).ip == expected


def test_a_stored_event_cannot_be_saved_again_or_deleted():
    event = record(action="consent.given", actor=Actor.person(1))
    event.actor_label = "someone else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(seq=event.seq).update(actor_label="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


class DomainFailure(Exception):
    pass


def test_a_failed_domain_change_leaves_no_audit_event():
    User = get_user_model()
    with pytest.raises(DomainFailure), transaction.atomic():
        user = User.objects.create_user(username="ana", password="x" * 20)
        record(action="staff.created", actor=Actor.system(), subject=user)
        raise DomainFailure
    assert not User.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not LedgerHead.objects.filter(seq__gt=0).exists()


def test_a_refused_audit_event_leaves_no_domain_change():
    User = get_user_model()
    with pytest.raises(ValueError, match="secret"), transaction.atomic():
        User.objects.create_user(username="ana", password="x" * 20)
        record(action="staff.created", actor=Actor.system(), payload={"password": "hunter2"})
    assert not User.objects.exists()


def test_a_failed_audit_insert_leaves_no_domain_change():
    record(action="person.created", actor=Actor.system())
    record(action="person.created", actor=Actor.system())
    # The head forgets event 2, so the next insert collides with it in the database.
    with triggers_dropped():
        LedgerHead.objects.update(seq=1)
    User = get_user_model()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="ana", password="x" * 20)
        record(action="staff.created", actor=Actor.system())
    assert not User.objects.exists()
    assert AuditEvent.objects.count() == 2


def test_a_caller_cannot_swallow_a_failed_audit_insert_and_commit_its_change():
    record(action="person.created", actor=Actor.system())
    record(action="person.created", actor=Actor.system())
    with triggers_dropped():
        LedgerHead.objects.update(seq=1)
    User = get_user_model()
    with transaction.atomic():
        User.objects.create_user(username="ana", password="x" * 20)
        with contextlib.suppress(IntegrityError):
            record(action="staff.created", actor=Actor.system())
        with pytest.raises(TransactionManagementError):
            User.objects.count()
    assert not User.objects.exists()


def test_a_rolled_back_savepoint_takes_its_event_and_leaves_the_chain_contiguous():
    with transaction.atomic():
        record(action="person.created", actor=Actor.system())
        with pytest.raises(DomainFailure), transaction.atomic():
            record(action="consent.given", actor=Actor.person(1))
            raise DomainFailure
        last = record(action="consent.given", actor=Actor.person(1))
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2]
    assert LedgerHead.objects.get().hash == last.hash


@pytest.mark.usefixtures("threaded_db")
def test_an_event_is_invisible_to_others_until_the_caller_commits():
    seen: list[int] = []

    def look() -> None:
        from django.db import connection

        seen.append(AuditEvent.objects.count())
        connection.close()

    with transaction.atomic():
        record(action="consent.given", actor=Actor.person(1))
        reader = threading.Thread(target=look)
        reader.start()
        reader.join()
    look()
    assert seen == [0, 1]


def test_it_stops_writing_when_the_head_row_is_gone_but_events_exist():
    record(action="person.created", actor=Actor.system())
    with triggers_dropped():
        LedgerHead.objects.all().delete()
    with pytest.raises(LedgerCorrupted, match="head row is missing"):
        record(action="consent.given", actor=Actor.person(1))

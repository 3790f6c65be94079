"""Persons, verification sessions and consents."""

from datetime import date
from typing import Literal

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from integrations.api.auth import KeyAuth, api_key
from integrations.api.errors import ERROR_CODES, ApiError, ErrorOut, not_found
from integrations.api.forms import check
from integrations.api.pagination import MAX_LIMIT, page
from integrations.api.schemas import (
    ConsentOut,
    PersonOut,
    SessionOut,
    consent_out,
    person_out,
    session_out,
)
from integrations.ids import parse
from integrations.keys import actor_for
from integrations.models import ExternalReference, Scope
from upstream.models import UpstreamAccount
from verification import services
from verification.forms import PersonForm, StartSessionForm
from verification.models import AuthorizingPerson, Consent, VerificationSession

router = Router(tags=["persons, sessions and consents"])
READ, INVITE = KeyAuth(Scope.READ), KeyAuth(Scope.INVITE)


class Page(Schema):
    next_cursor: str | None


class PersonPage(Page):
    data: list[PersonOut]


class SessionPage(Page):
    data: list[SessionOut]


class ConsentPage(Page):
    data: list[ConsentOut]


def _id(kind: str, value: str, field: str | None = None) -> int:
    pk = parse(kind, value)
    if pk is None:
        if field:
            raise ApiError(422, "invalid", f"'{value[:40]}' is not a {kind} id.", field)
        raise not_found(kind)
    return pk


def _person(value: str, field: str | None = None) -> AuthorizingPerson:
    person = (
        AuthorizingPerson.objects.select_related("external")
        .filter(pk=_id("person", value, field))
        .first()
    )
    if person is None:
        if field:
            raise ApiError(422, "invalid", "No person with that id.", field)
        raise not_found("person")
    return person


# --- Persons ----------------------------------------------------------------------------------


class PersonIn(Schema):
    full_name: str = Field(max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=32)
    language: Literal["en", "zh-hans", "zh-hant"] = "en"
    external_reference: str | None = Field(None, min_length=1, max_length=200)


class PersonFilter(Schema):
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    external_reference: str | None = Field(None, max_length=200)
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


@router.get("/persons", response={200: PersonPage, ERROR_CODES: ErrorOut}, auth=READ)
def list_persons(request: HttpRequest, filters: Query[PersonFilter]) -> dict[str, object]:
    persons = AuthorizingPerson.objects.select_related("external")
    if filters.email:
        persons = persons.filter(email__iexact=filters.email)
    if filters.phone:
        persons = persons.filter(phone=filters.phone.replace(" ", ""))
    if filters.external_reference:
        persons = persons.filter(external__value=filters.external_reference)
    return page(persons, cursor=filters.cursor, limit=filters.limit, render=person_out)


@router.post("/persons", response={201: PersonOut, ERROR_CODES: ErrorOut}, auth=INVITE)
def create_person(request: HttpRequest, body: PersonIn) -> Status[PersonOut]:
    key = api_key(request)
    form = PersonForm(
        data={
            "full_name": body.full_name,
            "email": body.email,
            "phone": body.phone,
            "language": body.language,
        }
    )
    check(form)
    reference = body.external_reference.strip() if body.external_reference else ""
    if reference and ExternalReference.objects.filter(value=reference).exists():
        raise ApiError(
            409,
            "duplicate",
            "Another person already has this external reference.",
            "external_reference",
        )
    try:
        with transaction.atomic():
            person = services.create_person(form=form, user=key.user)
            if reference:
                ExternalReference.objects.create(person=person, value=reference)
    except IntegrityError as error:
        raise ApiError(
            409,
            "duplicate",
            "Another person already has this external reference.",
            "external_reference",
        ) from error
    return Status(201, person_out(_person(f"per_{person.pk}")))


@router.get("/persons/{person_id}", response={200: PersonOut, ERROR_CODES: ErrorOut}, auth=READ)
def get_person(request: HttpRequest, person_id: str) -> PersonOut:
    return person_out(_person(person_id))


# --- Sessions ---------------------------------------------------------------------------------

Delivery = Literal["email", "sms", "link"]
CHANNELS = {
    "email": VerificationSession.Channel.EMAIL,
    "sms": VerificationSession.Channel.SMS,
    "link": VerificationSession.Channel.IN_PERSON,
}


class SessionIn(Schema):
    person: str = Field(max_length=40)
    project: str = Field(max_length=40, description="A project id, e.g. prj_1.")
    consent_text: str = Field(max_length=40, description="A consent text id, e.g. ctx_1.")
    media_kinds: list[Literal["image", "video", "audio"]] = Field(min_length=1, max_length=3)
    term_ends_on: date | None = None
    delivery: Delivery = Field(
        description="email or sms: Sitter sends the invitation; link: the answer carries the "
        "portal link for you to deliver."
    )
    account: str | None = Field(
        None, max_length=40, description="An upstream account id; optional when there is one."
    )


class SessionFilter(Schema):
    person: str | None = Field(None, max_length=40)
    status: str | None = Field(None, max_length=16)
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


def _session(value: str) -> VerificationSession:
    session = (
        VerificationSession.objects.select_related("person__external", "project")
        .filter(pk=_id("session", value))
        .first()
    )
    if session is None:
        raise not_found("session")
    return session


def _account_pk(value: str | None) -> int:
    if value:
        return _id("account", value, "account")
    accounts = list(UpstreamAccount.objects.filter(is_active=True).values_list("pk", flat=True)[:2])
    if len(accounts) != 1:
        raise ApiError(
            422,
            "invalid",
            "Name the upstream account: there is more than one (or none).",
            "account",
        )
    return accounts[0]


@router.post("/sessions", response={201: SessionOut, ERROR_CODES: ErrorOut}, auth=INVITE)
def create_session(request: HttpRequest, body: SessionIn) -> Status[SessionOut]:
    key = api_key(request)
    person = _person(body.person, "person")
    form = StartSessionForm(
        data={
            "account": _account_pk(body.account),
            "project": _id("project", body.project, "project"),
            "consent_text": _id("consent_text", body.consent_text, "consent_text"),
            "media_kinds": list(dict.fromkeys(body.media_kinds)),
            "term_ends_on": body.term_ends_on.isoformat() if body.term_ends_on else "",
            "channel": CHANNELS[body.delivery],
        },
        person=person,
    )
    check(form, {"channel": "delivery"})
    data = form.cleaned_data
    try:
        session = services.start_session(
            person=person,
            account_id=data["account"].pk,
            project=data["project"],
            consent_text=data["consent_text"],
            media_kinds=data["media_kinds"],
            channel=data["channel"],
            user=key.user,
            term_ends_on=data["term_ends_on"],
        )
        link = (
            services.show_link(session=session, user=key.user) if body.delivery == "link" else None
        )
    except services.JourneyError as error:
        raise ApiError(409, "conflict", str(error)) from error
    return Status(201, session_out(_session(f"ses_{session.pk}"), link))


@router.get("/sessions", response={200: SessionPage, ERROR_CODES: ErrorOut}, auth=READ)
def list_sessions(request: HttpRequest, filters: Query[SessionFilter]) -> dict[str, object]:
    sessions = VerificationSession.objects.select_related("person__external", "project")
    if filters.person:
        sessions = sessions.filter(person_id=_id("person", filters.person, "person"))
    if filters.status:
        sessions = sessions.filter(status=filters.status)
    return page(sessions, cursor=filters.cursor, limit=filters.limit, render=session_out)


@router.get("/sessions/{session_id}", response={200: SessionOut, ERROR_CODES: ErrorOut}, auth=READ)
def get_session(request: HttpRequest, session_id: str) -> SessionOut:
    return session_out(_session(session_id))


class CancelIn(Schema):
    reason: str = Field("", max_length=500, description="Why, kept in the ledger with the key")


@router.post(
    "/sessions/{session_id}/cancel", response={200: SessionOut, ERROR_CODES: ErrorOut}, auth=INVITE
)
def cancel_session(
    request: HttpRequest, session_id: str, body: CancelIn | None = None
) -> SessionOut:
    session = _session(session_id)
    key = api_key(request)
    reason = (body.reason.strip() if body else "") or f"cancelled through API key {key.public_id}"
    try:
        services.cancel_session(session=session, actor=actor_for(key), reason=reason)
    except services.JourneyError as error:
        raise ApiError(409, "conflict", str(error)) from error
    return session_out(_session(session_id))


@router.post(
    "/sessions/{session_id}/links", response={201: SessionOut, ERROR_CODES: ErrorOut}, auth=INVITE
)
def new_link(request: HttpRequest, session_id: str) -> Status[SessionOut]:
    """Revoke the session's links and send a new one (email, SMS), or return it (link)."""
    session = _session(session_id)
    user = api_key(request).user
    link = None
    try:
        if session.channel == VerificationSession.Channel.IN_PERSON:
            link = services.show_link(session=session, user=user)
        else:
            services.send_new_link(session=session, user=user)
    except services.JourneyError as error:
        raise ApiError(409, "conflict", str(error)) from error
    return Status(201, session_out(_session(session_id), link))


# --- Consents ---------------------------------------------------------------------------------


class ConsentFilter(Schema):
    person: str | None = Field(None, max_length=40)
    project: str | None = Field(None, max_length=40)
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


def _consents() -> QuerySet[Consent]:
    return Consent.objects.select_related("person__external", "project", "text")


@router.get("/consents", response={200: ConsentPage, ERROR_CODES: ErrorOut}, auth=READ)
def list_consents(request: HttpRequest, filters: Query[ConsentFilter]) -> dict[str, object]:
    consents = _consents()
    where = Q()
    if filters.person:
        where &= Q(person_id=_id("person", filters.person, "person"))
    if filters.project:
        where &= Q(project_id=_id("project", filters.project, "project"))
    return page(
        consents.filter(where), cursor=filters.cursor, limit=filters.limit, render=consent_out
    )


@router.get("/consents/{consent_id}", response={200: ConsentOut, ERROR_CODES: ErrorOut}, auth=READ)
def get_consent(request: HttpRequest, consent_id: str) -> ConsentOut:
    consent = _consents().filter(pk=_id("consent", consent_id)).first()
    if consent is None:
        raise not_found("consent")
    return consent_out(consent)

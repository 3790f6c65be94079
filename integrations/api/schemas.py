"""What the API answers, and how rows become those answers."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from django.conf import settings
from django.urls import reverse
from ninja import Schema

from assets.models import Asset, AssetGroup
from integrations.clearances import Answer
from integrations.ids import public
from integrations.models import Clearance, ClearanceItem, WebhookEndpoint
from verification.models import (
    AuthorizingPerson,
    Consent,
    ConsentText,
    Project,
    VerificationSession,
)

MediaKind = Literal["image", "video", "audio"]


def _ref(person: AuthorizingPerson) -> str | None:
    try:
        return person.external.value
    except AuthorizingPerson.external.RelatedObjectDoesNotExist:
        return None


class PersonOut(Schema):
    id: str
    object: Literal["person"] = "person"
    full_name: str
    email: str
    phone: str
    language: str
    external_reference: str | None
    created_at: datetime
    staff_url: str


def person_out(person: AuthorizingPerson) -> PersonOut:
    return PersonOut(
        id=public("person", person.pk) or "",
        full_name=person.full_name,
        email=person.email,
        phone=person.phone,
        language=person.language,
        external_reference=_ref(person),
        created_at=person.created_at,
        staff_url=settings.PUBLIC_BASE_URL + reverse("staff:person", args=[person.pk]),
    )


class SessionOut(Schema):
    id: str
    object: Literal["session"] = "session"
    person: str
    external_reference: str | None
    project: str
    project_id: str
    status: str
    channel: str
    media_kinds: list[str]
    term_ends_on: date | None
    created_at: datetime
    completed_at: datetime | None
    link: str | None = None


def session_out(session: VerificationSession, link: str | None = None) -> SessionOut:
    return SessionOut(
        id=public("session", session.pk) or "",
        person=public("person", session.person_id) or "",
        external_reference=_ref(session.person),
        project=session.project.name,
        project_id=public("project", session.project_id) or "",
        status=session.status,
        channel=session.channel,
        media_kinds=list(session.media_kinds),
        term_ends_on=session.term_ends_on,
        created_at=session.created_at,
        completed_at=session.completed_at,
        link=link,
    )


class ConsentOut(Schema):
    id: str
    object: Literal["consent"] = "consent"
    person: str
    external_reference: str | None
    session: str | None
    project: str
    project_id: str
    intended_use: str
    media_kinds: list[str]
    term_ends_on: date | None
    status: Literal["active", "withdrawn", "expired"]
    signed_at: datetime
    withdrawn_at: datetime | None
    text_version: str
    text_sha256: str
    staff_url: str


def consent_status(consent: Consent) -> Literal["active", "withdrawn", "expired"]:
    if consent.withdrawn_at is not None:
        return "withdrawn"
    return "active" if consent.is_active() else "expired"


def consent_out(consent: Consent) -> ConsentOut:
    return ConsentOut(
        id=public("consent", consent.pk) or "",
        person=public("person", consent.person_id) or "",
        external_reference=_ref(consent.person),
        session=public("session", consent.session_id),
        project=consent.project.name,
        project_id=public("project", consent.project_id) or "",
        intended_use=consent.intended_use,
        media_kinds=list(consent.media_kinds),
        term_ends_on=consent.term_ends_on,
        status=consent_status(consent),
        signed_at=consent.signed_at,
        withdrawn_at=consent.withdrawn_at,
        text_version=consent.text.version,
        text_sha256=consent.text_sha256,
        # The person's receipts sit behind their own link, which only they hold; staff see the
        # consent and its evidence on the person's page.
        staff_url=settings.PUBLIC_BASE_URL + reverse("staff:person", args=[consent.person_id]),
    )


class GroupOut(Schema):
    id: str
    object: Literal["group"] = "group"
    person: str
    external_reference: str | None
    upstream_id: str
    account: str
    created_at: datetime
    deleted_at: datetime | None


def group_out(group: AssetGroup) -> GroupOut:
    return GroupOut(
        id=public("group", group.pk) or "",
        person=public("person", group.person_id) or "",
        external_reference=_ref(group.person),
        upstream_id=group.upstream_id,
        account=public("account", group.account_id) or "",
        created_at=group.created_at,
        deleted_at=group.deleted_at,
    )


class AssetOut(Schema):
    id: str
    object: Literal["asset"] = "asset"
    group: str
    person: str
    external_reference: str | None
    consent: str | None
    project: str | None
    kind: str
    status: str
    asset_uri: str | None
    original_name: str
    size_bytes: int
    sha256: str
    error_code: str
    error_message: str
    created_at: datetime


def asset_out(asset: Asset) -> AssetOut:
    consent = asset.consent
    return AssetOut(
        id=public("asset", asset.pk) or "",
        group=public("group", asset.group_id) or "",
        person=public("person", asset.group.person_id) or "",
        external_reference=_ref(asset.group.person),
        consent=public("consent", asset.consent_id),
        project=consent.project.name if consent else None,
        kind=asset.kind,
        status=asset.status,
        asset_uri=asset.asset_uri or None,
        original_name=asset.original_name,
        size_bytes=asset.size_bytes,
        sha256=asset.sha256,
        error_code=asset.error_code,
        error_message=asset.error_message,
        created_at=asset.created_at,
    )


class ProjectOut(Schema):
    id: str
    object: Literal["project"] = "project"
    name: str
    intended_use: str
    is_active: bool


def project_out(project: Project) -> ProjectOut:
    return ProjectOut(
        id=public("project", project.pk) or "",
        name=project.name,
        intended_use=project.intended_use,
        is_active=project.is_active,
    )


class ConsentTextOut(Schema):
    id: str
    object: Literal["consent_text"] = "consent_text"
    title: str
    version: str
    language: str
    sha256: str


def consent_text_out(text: ConsentText) -> ConsentTextOut:
    return ConsentTextOut(
        id=public("consent_text", text.pk) or "",
        title=text.title,
        version=text.version,
        language=text.language,
        sha256=text.sha256,
    )


class ClearedAsset(Schema):
    reference: str
    asset: str | None
    allowed: bool
    reason: str
    consent: str | None
    valid_until: datetime | None
    voided_at: datetime | None
    void_reason: str


class ClearanceOut(Schema):
    id: str
    object: Literal["clearance"] = "clearance"
    project: str
    project_id: str
    intended_use: str
    allowed: bool
    created_at: datetime
    assets: list[ClearedAsset]


def clearance_out(clearance: Clearance, items: Sequence[ClearanceItem | Answer]) -> dict[str, Any]:
    """A dict, not a `ClearanceOut`: the answer is validated once, on its way out, and a
    clearance sits in front of every render."""
    return {
        "id": clearance.public_id,
        "object": "clearance",
        "project": clearance.project.name,
        "project_id": public("project", clearance.project_id),
        "intended_use": clearance.intended_use,
        "allowed": all(i.allowed and i.voided_at is None for i in items),
        "created_at": clearance.created_at,
        "assets": [
            {
                "reference": i.reference,
                "asset": public("asset", i.asset_id),
                "allowed": i.allowed and i.voided_at is None,
                "reason": i.reason if i.voided_at is None else i.void_reason,
                "consent": public("consent", i.consent_id),
                "valid_until": i.valid_until,
                "voided_at": i.voided_at,
                "void_reason": i.void_reason,
            }
            for i in items
        ],
    }


class EndpointOut(Schema):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    description: str
    events: list[str]
    is_active: bool
    paused: bool
    created_at: datetime
    secret: str | None = None


def endpoint_out(endpoint: WebhookEndpoint, secret: str | None = None) -> EndpointOut:
    return EndpointOut(
        id=f"whe_{endpoint.pk}",
        url=endpoint.url,
        description=endpoint.description,
        events=list(endpoint.events),
        is_active=endpoint.is_active,
        paused=endpoint.paused_at is not None,
        created_at=endpoint.created_at,
        secret=secret,
    )

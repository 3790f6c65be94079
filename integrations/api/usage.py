"""Usage clearances, and the webhook endpoints a key with the `webhooks` scope manages."""

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from integrations import clearances
from integrations.api.auth import KeyAuth, api_key
from integrations.api.errors import ERROR_CODES, ApiError, ErrorOut, not_found
from integrations.api.people import Page, _id
from integrations.api.schemas import ClearanceOut, EndpointOut, clearance_out, endpoint_out
from integrations.destinations import DestinationRefused, check_url
from integrations.keys import actor_for
from integrations.models import Clearance, Scope, WebhookEndpoint
from integrations.outbox import EVENT_TYPES
from integrations.webhooks import create_endpoint, rotate_secret
from ledger.services import record
from verification.models import Project

router = Router(tags=["usage clearance and webhooks"])
READ, CLEAR, HOOKS = KeyAuth(Scope.READ), KeyAuth(Scope.CLEAR), KeyAuth(Scope.WEBHOOKS)


class ClearanceIn(Schema):
    assets: list[str] = Field(
        min_length=1,
        max_length=clearances.MAX_ASSETS,
        description="asset:// references or asset ids (ast_…).",
    )
    project: str = Field(max_length=40, description="The project id (prj_…) of the render.")
    intended_use: str = Field("", max_length=2000)


@router.post("/clearances", response={201: ClearanceOut, ERROR_CODES: ErrorOut}, auth=CLEAR)
def create_clearance(request: HttpRequest, body: ClearanceIn) -> Status[dict[str, Any]]:
    """For each asset: may it be used for this project now? The answer is kept as evidence
    (`usage.cleared` or `usage.refused` in the ledger) and voided when the consent ends."""
    key = api_key(request)
    project = Project.objects.filter(pk=_id("project", body.project, "project")).first()
    if project is None:
        raise ApiError(422, "invalid", "No project with that id.", "project")
    references = [str(a)[:200] for a in body.assets]
    try:
        clearance, answers = clearances.clear_usage(
            key=key,
            actor=actor_for(key),
            project=project,
            references=references,
            intended_use=body.intended_use,
        )
    except clearances.ClearanceRequestError as error:
        raise ApiError(422, "invalid", str(error), "assets") from error
    return Status(201, clearance_out(clearance, answers))


@router.get(
    "/clearances/{clearance_id}", response={200: ClearanceOut, ERROR_CODES: ErrorOut}, auth=READ
)
def get_clearance(request: HttpRequest, clearance_id: str) -> dict[str, Any]:
    clearance = (
        Clearance.objects.select_related("project").filter(public_id=clearance_id[:40]).first()
    )
    if clearance is None:
        raise not_found("clearance")
    return clearance_out(clearance, list(clearance.items.all()))


class EndpointIn(Schema):
    url: str = Field(max_length=500)
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str = Field("", max_length=200)


class EndpointPage(Page):
    data: list[EndpointOut]


def _endpoint(value: str) -> WebhookEndpoint:
    digits = value.removeprefix("whe_")
    endpoint = (
        WebhookEndpoint.objects.filter(pk=int(digits)).first()
        if value.startswith("whe_") and digits.isdigit() and len(digits) < 18
        else None
    )
    if endpoint is None:
        raise not_found("webhook endpoint")
    return endpoint


@router.get("/webhook-endpoints", response={200: EndpointPage, ERROR_CODES: ErrorOut}, auth=HOOKS)
def list_endpoints(request: HttpRequest) -> dict[str, object]:
    endpoints = WebhookEndpoint.objects.filter(is_active=True).order_by("pk")[:100]
    return {"data": [endpoint_out(e) for e in endpoints], "next_cursor": None}


@router.post("/webhook-endpoints", response={201: EndpointOut, ERROR_CODES: ErrorOut}, auth=HOOKS)
def add_endpoint(request: HttpRequest, body: EndpointIn) -> Status[EndpointOut]:
    """Register a URL for some event types. The answer carries the signing secret, once."""
    unknown = sorted(set(body.events) - set(EVENT_TYPES))
    if unknown:
        raise ApiError(422, "invalid", f"Unknown event type {', '.join(unknown)}.", "events")
    try:
        check_url(body.url)
    except DestinationRefused as error:
        raise ApiError(422, "invalid", str(error), "url") from error
    endpoint, secret = create_endpoint(
        url=body.url,
        events=body.events,
        description=body.description,
        actor=actor_for(api_key(request)),
    )
    return Status(201, endpoint_out(endpoint, secret))


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response={201: EndpointOut, ERROR_CODES: ErrorOut},
    auth=HOOKS,
)
def rotate(request: HttpRequest, endpoint_id: str) -> Status[EndpointOut]:
    """A new signing secret; the old one keeps signing too for `WEBHOOK_ROTATION_HOURS`."""
    endpoint = _endpoint(endpoint_id)
    secret = rotate_secret(endpoint=endpoint, actor=actor_for(api_key(request)))
    return Status(201, endpoint_out(endpoint, secret))


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    response={200: EndpointOut, ERROR_CODES: ErrorOut},
    auth=HOOKS,
)
def remove_endpoint(request: HttpRequest, endpoint_id: str) -> EndpointOut:
    endpoint = _endpoint(endpoint_id)
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
        record(
            action="webhook.endpoint_removed",
            actor=actor_for(api_key(request)),
            subject=endpoint,
            payload={"url": endpoint.url},
        )
    endpoint.refresh_from_db()
    return endpoint_out(endpoint)

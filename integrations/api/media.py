"""Asset groups, assets (list, upload, delete), and the projects and consent texts they hang on."""

from typing import Literal

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from assets import services as asset_services
from assets.models import Asset, AssetGroup
from assets.uploads import SizeLimitHandler
from integrations.api.auth import KeyAuth, UploadAuth, api_key
from integrations.api.errors import ERROR_CODES, ApiError, ErrorOut, not_found
from integrations.api.pagination import MAX_LIMIT, page
from integrations.api.people import Page, _id
from integrations.api.schemas import (
    AssetOut,
    ConsentTextOut,
    GroupOut,
    ProjectOut,
    asset_out,
    consent_text_out,
    group_out,
    project_out,
)
from integrations.keys import actor_for
from integrations.models import Scope
from verification.models import ConsentText, Project

router = Router(tags=["groups and assets"])
READ, UPLOAD = KeyAuth(Scope.READ), KeyAuth(Scope.UPLOAD)


class GroupPage(Page):
    data: list[GroupOut]


class AssetPage(Page):
    data: list[AssetOut]


class ProjectPage(Page):
    data: list[ProjectOut]


class ConsentTextPage(Page):
    data: list[ConsentTextOut]


class Paging(Schema):
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class GroupFilter(Paging):
    person: str | None = Field(None, max_length=40)


class AssetFilter(Paging):
    person: str | None = Field(None, max_length=40)
    project: str | None = Field(None, max_length=40)
    group: str | None = Field(None, max_length=40)
    kind: Literal["image", "video", "audio"] | None = None
    status: Literal[tuple(Asset.Status.values)] | None = None  # type: ignore[valid-type]


def _groups() -> QuerySet[AssetGroup]:
    return AssetGroup.objects.select_related("person__external")


def _assets() -> QuerySet[Asset]:
    return Asset.objects.select_related("group__person__external", "consent__project")


@router.get("/projects", response={200: ProjectPage, ERROR_CODES: ErrorOut}, auth=READ)
def list_projects(request: HttpRequest, paging: Query[Paging]) -> dict[str, object]:
    return page(Project.objects.all(), cursor=paging.cursor, limit=paging.limit, render=project_out)


@router.get("/consent-texts", response={200: ConsentTextPage, ERROR_CODES: ErrorOut}, auth=READ)
def list_consent_texts(request: HttpRequest, paging: Query[Paging]) -> dict[str, object]:
    return page(
        ConsentText.objects.all(), cursor=paging.cursor, limit=paging.limit, render=consent_text_out
    )


@router.get("/groups", response={200: GroupPage, ERROR_CODES: ErrorOut}, auth=READ)
def list_groups(request: HttpRequest, filters: Query[GroupFilter]) -> dict[str, object]:
    groups = _groups()
    if filters.person:
        groups = groups.filter(person_id=_id("person", filters.person, "person"))
    return page(groups, cursor=filters.cursor, limit=filters.limit, render=group_out)


def _group(value: str) -> AssetGroup:
    group = _groups().select_related("account").filter(pk=_id("group", value)).first()
    if group is None:
        raise not_found("group")
    return group


@router.get("/groups/{group_id}", response={200: GroupOut, ERROR_CODES: ErrorOut}, auth=READ)
def get_group(request: HttpRequest, group_id: str) -> GroupOut:
    return group_out(_group(group_id))


@router.get("/assets", response={200: AssetPage, ERROR_CODES: ErrorOut}, auth=READ)
def list_assets(request: HttpRequest, filters: Query[AssetFilter]) -> dict[str, object]:
    where = Q()
    if filters.person:
        where &= Q(group__person_id=_id("person", filters.person, "person"))
    if filters.project:
        where &= Q(consent__project_id=_id("project", filters.project, "project"))
    if filters.group:
        where &= Q(group_id=_id("group", filters.group, "group"))
    if filters.kind:
        where &= Q(kind=filters.kind)
    if filters.status:
        where &= Q(status=filters.status)
    return page(
        _assets().filter(where), cursor=filters.cursor, limit=filters.limit, render=asset_out
    )


def _asset(value: str) -> Asset:
    asset = _assets().filter(pk=_id("asset", value)).first()
    if asset is None:
        raise not_found("asset")
    return asset


@router.get("/assets/{asset_id}", response={200: AssetOut, ERROR_CODES: ErrorOut}, auth=READ)
def get_asset(request: HttpRequest, asset_id: str) -> AssetOut:
    return asset_out(_asset(asset_id))


@router.post(
    "/groups/{group_id}/assets",
    response={201: AssetOut, ERROR_CODES: ErrorOut},
    auth=UploadAuth(Scope.UPLOAD),
)
def upload_asset(
    request: HttpRequest,
    group_id: str,
    file: File[UploadedFile],
    consent: Form[str | None] = None,
) -> Status[AssetOut]:
    """Upload one file by multipart (field `file`), checked as the upload page checks it.
    `consent` picks the consent it goes under when several hold; else the newest."""
    if any(isinstance(h, SizeLimitHandler) and h.exceeded for h in request.upload_handlers):
        raise ApiError(
            413,
            "too_large",
            f"The file is too large: uploads stop at {settings.ASSET_UPLOAD_MAX_BYTES / 1_000_000:.0f} MB.",
            "file",
        )
    group = _group(group_id)
    key = api_key(request)
    consent_id = _id("consent", consent, "consent") if consent else None
    try:
        asset = asset_services.receive_upload(
            group=group,
            upload=file,
            uploader=asset_services.Uploader(user=key.user),
            request=request,
            consent_id=consent_id,
        )
    except asset_services.IntakeError as error:
        raise ApiError(409, "no_consent", str(error)) from error
    if asset.status == Asset.Status.REJECTED:
        raise ApiError(422, "file_refused", asset.error_message or "The file was refused.", "file")
    return Status(201, asset_out(_asset(f"ast_{asset.pk}")))


@router.delete("/assets/{asset_id}", response={200: AssetOut, ERROR_CODES: ErrorOut}, auth=UPLOAD)
def delete_asset(request: HttpRequest, asset_id: str) -> AssetOut:
    """Delete the asset upstream and here; its row and SHA-256s stay as evidence."""
    from upstream.errors import UpstreamError

    asset = _asset(asset_id)
    key = api_key(request)
    try:
        asset_services.delete_asset(
            asset=asset, actor=actor_for(key), reason=f"api key {key.public_id}"
        )
    except UpstreamError as error:
        raise ApiError(
            503, "upstream_unavailable", f"The upstream did not delete it: {error}"
        ) from error
    return asset_out(_asset(asset_id))

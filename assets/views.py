"""Asset pages: a group's assets, the upload endpoint (staff and person), status, the fetch link."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from assets import person_words, services, storage, uploads
from assets.media.limits import MediaLimits
from assets.media.sniff import display_name
from assets.models import Asset, AssetGroup
from ledger.services import Actor
from portal.access import StaffRequest, staff_permission_required
from portal.confirm import ReasonForm, confirm_page
from upstream.codes import explain
from upstream.errors import UpstreamError
from verification.models import Consent, VerificationSession
from verification.receipts import DISMISSED
from verification.views.person import _activate_language, _resolve, person_page, render_person

STOP_POLLING = 286


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _page_context(
    group: AssetGroup, upload_url: str, consents: list[Consent] | None = None
) -> dict[str, Any]:
    """`consents`: those an upload from this page may go under (default: all that hold)."""
    consents = services.active_consents(group) if consents is None else consents
    kinds = services.covered_kinds(consents)
    limits = MediaLimits.from_settings()
    return {
        "group": group,
        "assets": group.assets.select_related("uploaded_by").order_by("-created_at")[:500],
        "upload_url": upload_url,
        "limits": services.limits_for_browser(limits, kinds),
        # Formats by the names people know them by, not every file extension each may carry.
        "format_names": {
            kind: ", ".join(sorted(display_name(fmt) for fmt in formats))
            for kind, formats in (
                ("image", limits.image_formats),
                ("video", limits.video_formats),
                ("audio", limits.audio_formats),
            )
        },
        "kinds_allowed": kinds,
        # With several projects behind the group, staff say which one an upload is for.
        "consent_choices": consents if len(consents) > 1 else [],
    }


def _get_group(pk: int) -> AssetGroup:
    return get_object_or_404(
        AssetGroup.objects.select_related("person", "account", "session"), pk=pk
    )


@staff_permission_required("assets.view_assetgroup")
@require_GET
def group_detail(request: StaffRequest, pk: int) -> HttpResponse:
    group = _get_group(pk)
    return render(
        request, "assets/group.html", _page_context(group, reverse("assets:upload", args=[pk]))
    )


@staff_permission_required("assets.view_assetgroup")
@require_GET
def group_assets(request: StaffRequest, pk: int) -> HttpResponse:
    """The live asset list; htmx polls it until every asset has settled."""
    group = _get_group(pk)
    context = _page_context(group, reverse("assets:upload", args=[pk]))
    response = render(request, "assets/group.html#asset-list", context)
    if request.htmx and all(asset.is_terminal for asset in context["assets"]):
        response.status_code = STOP_POLLING
    return response


@uploads.upload_endpoint
@staff_permission_required("assets.upload_asset")
def staff_upload(request: StaffRequest, pk: int) -> HttpResponse:
    group = _get_group(pk)
    back = reverse("assets:group", args=[pk])
    if request.method != "POST":
        return redirect(back)
    return _receive(request, group, services.Uploader(user=request.user), back)


def _refused(
    request: HttpRequest, back: str, text: str | Promise, status: int = 409
) -> HttpResponse:
    """Nothing was taken: say why, as JSON to the uploader script or as a message on the page."""
    if _wants_json(request):
        return JsonResponse({"error": str(text)}, status=status)
    messages.error(request, str(text))
    return redirect(back)


STAFF_BROWSER = gettext_lazy(
    "This browser is signed in to the studio's staff pages, so files sent here would count as the "
    "person's own. Staff add files on the person's page in the staff pages instead."
)
NO_CONSENT_OF_THEIRS = gettext_lazy(
    "The consent you gave through this link no longer holds (withdrawn or ended), so nothing "
    "more can be uploaded under it."
)


def _receive(
    request: HttpRequest,
    group: AssetGroup,
    uploader: services.Uploader,
    back: str,
    *,
    consent_id: int | None = None,
    by_person: bool = False,
) -> HttpResponse:
    """Take the one file of an upload whose sender was checked already. `by_person`: through a
    person's link, which a browser signed in as staff may not use."""
    try:
        uploads.admit(request)
        if by_person and request.user.is_authenticated:
            # Files sent here count as the person's own. Refused after the CSRF check, as every
            # other refusal: a forged form learns nothing more.
            return _refused(request, back, STAFF_BROWSER, status=403)
        upload = uploads.received_file(request)
    except uploads.UploadRefused as refusal:
        if refusal.response is not None and not _wants_json(request):
            return refusal.response  # Django's own page for a failed CSRF check
        return _refused(request, back, refusal.text, refusal.status)
    if consent_id is None:
        # Staff say which project an upload is for when several consents hold.
        chosen = request.POST.get("consent", "")
        consent_id = int(chosen) if chosen.isdigit() else None
    try:
        asset = services.receive_upload(
            group=group, upload=upload, uploader=uploader, request=request, consent_id=consent_id
        )
    except services.IntakeError as error:
        return _refused(request, back, str(error), error.status)
    if _wants_json(request):
        accepted = asset.status != Asset.Status.REJECTED
        body = {"assets": [_asset_json(asset, request, uploader)]}
        return JsonResponse(body, status=201 if accepted else 422)
    if asset.status == Asset.Status.REJECTED:
        messages.error(request, f"{asset.original_name}: {asset.error_message}")
    else:
        messages.success(
            request,
            gettext("%(name)s was checked and is being sent.") % {"name": asset.original_name},
        )
    return redirect(back)


def _status_url(asset: Asset, request: HttpRequest, uploader: services.Uploader) -> str:
    if uploader.user is not None:
        return reverse("assets:asset_status", args=[asset.pk])
    token = request.resolver_match.kwargs["token"] if request.resolver_match else ""
    return reverse("person_assets:asset_status", args=[token, asset.pk])


def _asset_json(asset: Asset, request: HttpRequest, uploader: services.Uploader) -> dict[str, Any]:
    for_person = uploader.user is None
    return {
        "id": asset.pk,
        "name": asset.original_name,
        "kind": asset.kind,
        "status": asset.status,
        "status_label": person_words.status(asset) if for_person else asset.get_status_display(),
        "problems": person_words.problems(asset) if for_person else asset.warnings,
        "status_url": _status_url(asset, request, uploader),
        # The upstream's ids are the studio's business; the person sees their file's state.
        "asset_uri": "" if for_person else asset.asset_uri,
    }


def _status_json(asset: Asset, *, for_person: bool = False) -> JsonResponse:
    error = None
    if asset.status in (Asset.Status.FAILED, Asset.Status.REJECTED) or asset.error_message:
        explanation, fix = (
            explain(asset.error_code) if asset.error_code else (asset.error_message, "")
        )
        error = {
            "code": asset.error_code,
            "message": person_words.error(asset)
            if for_person
            else (asset.error_message or explanation),
            "fix": "" if for_person else fix,
        }
    return JsonResponse(
        {
            "id": asset.pk,
            "status": asset.status,
            "status_label": person_words.status(asset)
            if for_person
            else asset.get_status_display(),
            # Every problem so far: the face pre-check's warnings join them in the worker, so
            # they first appear here, while the file is on its way upstream.
            "problems": person_words.problems(asset) if for_person else asset.warnings,
            "asset_uri": "" if for_person else asset.asset_uri,
            "error": error,
            "terminal": asset.is_terminal,
        }
    )


@staff_permission_required("assets.view_asset")
@require_GET
def asset_status(request: StaffRequest, pk: int) -> JsonResponse:
    return _status_json(get_object_or_404(Asset, pk=pk))


@staff_permission_required("assets.delete_asset_upstream")
def asset_delete(request: StaffRequest, pk: int) -> HttpResponse:
    """Asks first (what goes, and why), then deletes upstream and here on the confirming POST."""
    asset = get_object_or_404(
        Asset.objects.select_related("group__account", "group__person"), pk=pk
    )
    back = reverse("assets:group", args=[asset.group_id])
    if asset.status == Asset.Status.DELETED:
        messages.info(request, f"{asset.original_name} was already deleted.")
        return redirect(back)
    form = ReasonForm(request.POST if request.POST.get("confirmed") == "yes" else None)
    if not form.is_valid():
        return confirm_page(
            request,
            form=form,
            title=f"Delete {asset.original_name}?",
            consequences=[
                f"It is deleted at the upstream first, then the copy here: "
                f"{asset.group.person.full_name}'s likeness can't be used from it any more.",
                "This can't be undone; the ledger keeps its SHA-256, who deleted it and why.",
            ],
            button="Delete upstream and here",
            back=back,
            status=400 if form.is_bound else 200,
        )
    try:
        services.delete_asset(
            asset=asset, actor=Actor.staff(request.user), reason=form.cleaned_data["reason"]
        )
    except UpstreamError as error:
        messages.error(request, f"The upstream did not delete it: {error.explanation} {error.fix}")
    else:
        messages.success(request, f"{asset.original_name} was deleted here and upstream.")
    return redirect(back)


def _person_group(
    request: HttpRequest, token: str
) -> tuple[AssetGroup, VerificationSession] | HttpResponse:
    """The group behind the person's link (its own, or the one a later project reused)."""
    resolved = _resolve(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    session = resolved.session
    group = services.group_for_session(session)
    if session.status != VerificationSession.Status.VERIFIED or group is None:
        raise Http404("Uploads open once the verification is complete.")
    return group, session


@uploads.upload_endpoint
@person_page
def person_upload(request: HttpRequest, token: str) -> HttpResponse:
    found = _person_group(request, token)
    if isinstance(found, HttpResponse):
        return found
    group, session = found
    _activate_language(request, group.person.language)
    back = reverse("person_assets:upload", args=[token])
    # A person's files go under the consent they gave through this link, whatever else holds.
    own = [c for c in services.active_consents(group) if c.session_id == session.pk]
    if request.method == "POST":
        if not own:
            return _refused(request, back, NO_CONSENT_OF_THEIRS)
        if (wait := uploads.person_upload_wait(session)) is not None:
            return _refused(request, back, wait, status=429)
        uploader = services.Uploader(person_id=group.person_id)
        return _receive(request, group, uploader, back, consent_id=own[0].pk, by_person=True)
    context = _page_context(group, back, own)
    sent = held_or_refused(group.assets.filter(uploaded_by_person=True)).order_by("-created_at")
    for asset in sent:
        asset.person_status = person_words.status(asset)  # type: ignore[attr-defined]
        asset.person_problems = person_words.problems(asset)  # type: ignore[attr-defined]
        asset.person_refusal = person_words.refusal(asset)  # type: ignore[attr-defined]
    context.update(
        {
            "token": token,
            "studio": settings.STUDIO_NAME,
            "assets": sent[:200],
            # Their consent through this link is gone: the page says why, with no uploader.
            "withdrawn": None
            if own
            else session.consents.filter(withdrawn_at__isnull=False)
            .order_by("-withdrawn_at")
            .first(),
            "ended": not own,
        }
    )
    return render_person(request, "assets/person_upload.html", context)


def held_or_refused(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    """Everything sent, less the refused attempts the person dismissed."""
    return assets.exclude(DISMISSED)


@require_POST
@person_page
def person_asset_dismiss(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    """A refused attempt leaves the person's list. It was never held; the dismissal goes through
    the one deletion path, so the ledger has it too."""
    found = _person_group(request, token)
    if isinstance(found, HttpResponse):
        return found
    group, _session = found
    asset = get_object_or_404(
        Asset.objects.select_related("group__account"),
        pk=pk,
        group=group,
        uploaded_by_person=True,
        status=Asset.Status.REJECTED,
    )
    services.delete_asset(
        asset=asset, actor=Actor.person(group.person_id), reason="dismissed by the person"
    )
    return redirect("person_assets:upload", token)


@require_GET
@person_page
def person_asset_status(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    found = _person_group(request, token)
    if isinstance(found, HttpResponse):
        return found
    _activate_language(request, found[0].person.language)
    return _status_json(get_object_or_404(Asset, pk=pk, group=found[0]), for_person=True)


@require_GET
def upstream_fetch(request: HttpRequest, signed: str) -> FileResponse:
    """The stored file (its location metadata removed at intake), for the upstream's download
    only."""
    asset = services.asset_for_fetch(signed)
    if asset is None or not storage.exists(asset.file.name):
        raise Http404
    return FileResponse(
        asset.file.open("rb"), content_type=asset.content_type, filename=asset.upstream_name
    )

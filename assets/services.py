"""Asset intake: receive a file, check it, forward it exactly once, follow it to Active or Failed.

Upstream calls happen outside database transactions; every state change is a compare-and-swap
recorded in the ledger in the same transaction.

Evidence of the bytes: `Asset.sha256` is the SHA-256 of the file exactly as uploaded (hashed while
it streamed in), which the person can check against their own copy. An accepted file has its
location and device metadata removed at intake, in the stored copy itself, so that copy is what
is kept and what is sent upstream; `Asset.forwarded_sha256` is its SHA-256 (the same value when
there was nothing to remove). The `asset.received` and `asset.forwarded` ledger events carry both.
"""

import contextlib
import hashlib
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePath

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from assets import storage
from assets.media.checks import inspect
from assets.media.facts import MediaError, MediaFacts, Problem, ProblemCode
from assets.media.limits import MediaLimits
from assets.media.privacy import MetadataError, strip_location_metadata
from assets.media.sniff import EXTENSIONS
from assets.models import Asset, AssetGroup
from assets.uploads import HashedUpload
from ledger.services import Actor, record
from portal.confirm import require_reason
from portal.queueing import enqueue_on_commit
from upstream.client import UpstreamClient
from upstream.codes import explain
from upstream.errors import (
    AssetNotFound,
    SourceTooLarge,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from upstream.factory import client_for
from upstream.types import AssetInfo, AssetType, InlineSource, MultipartSource, UrlSource
from verification.models import Consent, VerificationSession

logger = logging.getLogger(__name__)

Status = Asset.Status
ASSET_TYPES = {"image": AssetType.IMAGE, "video": AssetType.VIDEO, "audio": AssetType.AUDIO}
KIND_WORDS = {"image": "photos", "video": "videos", "audio": "voice recordings"}
FACE_CHECKED_KINDS = frozenset({"image", "video"})
# Seconds between status checks of an asset the upstream is processing (typically 3–12 s).
CHECK_BACKOFF = (2, 2, 3, 3, 5, 5, 10, 15, 30, 60)
FETCH_SALT = "assets.fetch"
# What browsers report for each allowed format (for the upload page's advice only).
MIME_TYPES = {
    "JPEG": ("image/jpeg",),
    "PNG": ("image/png",),
    "WEBP": ("image/webp",),
    "GIF": ("image/gif",),
    "HEIC": ("image/heic", "image/heif"),
    "MP4": ("video/mp4",),
    "MOV": ("video/quicktime",),
    "MP3": ("audio/mpeg", "audio/mp3"),
    "WAV": ("audio/wav", "audio/x-wav", "audio/wave"),
}


class IntakeError(Exception):
    """The upload cannot be taken at all (no consent, group closed); the text says why, and
    `status` is the HTTP status to answer with."""

    status = 409


class StorageUnavailable(IntakeError):
    """Media storage could not keep the file (a bucket down or refusing); worth trying later."""

    status = 503


# --- Consent and limits ----------------------------------------------------------------------


def active_consents(group: AssetGroup) -> list[Consent]:
    """The consents that still hold for this group, newest first: from the session that verified
    it, and from later sessions that reused it for other projects. Each upload goes under one."""
    consents = Consent.objects.filter(
        person_id=group.person_id,
        withdrawn_at__isnull=True,
        session__account_id=group.account_id,
        session__upstream_group_id=group.upstream_id,
        # Not one still waiting for the person's code: until they enter it, it binds nothing.
        session__status=VerificationSession.Status.VERIFIED,
    ).select_related("project")
    return [c for c in consents.order_by("-signed_at") if c.is_active()]


def active_consent(group: AssetGroup) -> Consent | None:
    """The newest consent that holds for this group: where uploads go unless one is chosen."""
    return next(iter(active_consents(group)), None)


def covered_kinds(consents: list[Consent]) -> list[str]:
    """The kinds of media at least one of `consents` covers, in the usual order."""
    return [kind for kind in ASSET_TYPES if any(kind in c.media_kinds for c in consents)]


def group_for_session(session: VerificationSession) -> AssetGroup | None:
    """The group a verified session's uploads go to: its own, or the one it reused."""
    if not session.upstream_group_id:
        return None
    return (
        AssetGroup.objects.filter(
            account_id=session.account_id, upstream_id=session.upstream_group_id
        )
        .select_related("person", "account")
        .first()
    )


def limits_for_browser(limits: MediaLimits, kinds_allowed: list[str]) -> dict[str, object]:
    """The limits the upload page checks before sending (advice; the server decides)."""

    def extensions(formats: frozenset[str]) -> list[str]:
        return sorted(ext for fmt in formats for ext in EXTENSIONS.get(fmt, ()))

    def mimes(formats: frozenset[str]) -> list[str]:
        return sorted(mime for fmt in formats for mime in MIME_TYPES.get(fmt, ()))

    return {
        "image": {
            "extensions": extensions(limits.image_formats),
            "mimes": mimes(limits.image_formats),
            "max_bytes": limits.image_max_bytes,
            "min_side": limits.image_min_side_px,
            "max_side": limits.image_max_side_px,
            "min_aspect": limits.image_min_aspect,
            "max_aspect": limits.image_max_aspect,
            "allow_animated": limits.allow_animated_images,
        },
        "video": {
            "extensions": extensions(limits.video_formats),
            "mimes": mimes(limits.video_formats),
            "max_bytes": limits.video_max_bytes,
            "min_side": limits.video_min_side_px,
            "max_side": limits.video_max_side_px,
            "min_aspect": limits.video_min_aspect,
            "max_aspect": limits.video_max_aspect,
            "min_pixels": limits.video_min_pixels,
            "max_pixels": limits.video_max_pixels,
            "min_duration": limits.video_min_duration_s,
            "max_duration": limits.video_max_duration_s,
            "min_fps": limits.video_min_fps,
            "max_fps": limits.video_max_fps,
        },
        "audio": {
            "extensions": extensions(limits.audio_formats),
            "mimes": mimes(limits.audio_formats),
            "max_bytes": limits.audio_max_bytes,
            "min_duration": limits.audio_min_duration_s,
            "max_duration": limits.audio_max_duration_s,
        },
        "kinds_allowed": kinds_allowed,
    }


# --- Receiving ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Uploader:
    user: User | None = None
    person_id: int | None = None

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.user) if self.user else Actor.person(self.person_id or 0)


@storage.spools_removed_after
def receive_upload(
    *,
    group: AssetGroup,
    upload: UploadedFile,
    uploader: Uploader,
    request: HttpRequest | None,
    consent_id: int | None = None,
) -> Asset:
    """Keep the file, check it from its content, remove its location and device metadata, and
    queue it for forwarding if it passes. It goes under the consent `consent_id` names (one that
    holds for the group), else under the newest. The face pre-check runs later, in the worker (see
    `forward`): its warnings arrive on the asset while it is on its way.

    A refused file keeps its row (with the reasons and the SHA-256, as evidence) but not its bytes.
    """
    if group.deleted_at is not None:
        raise IntakeError("This person's asset group was deleted; nothing more can be added to it.")
    consents = active_consents(group)
    if not consents:
        raise IntakeError(
            "There is no active consent behind this group (withdrawn or expired), so nothing can be uploaded."
        )
    consent: Consent | None = (
        consents[0]
        if consent_id is None
        else next((c for c in consents if c.pk == consent_id), None)
    )
    if consent is None:
        raise IntakeError(
            "The consent chosen for this upload no longer holds (withdrawn or ended), so nothing "
            "can be uploaded under it. Reload the page to see the projects that still hold."
        )
    display_name = PurePath((upload.name or "upload").replace("\\", "/")).name[:255] or "upload"
    path, sha256, size = _spool(upload)
    inspection = inspect(path, original_name=display_name, limits=MediaLimits.from_settings())
    facts = inspection.facts
    problems = list(inspection.problems)
    kind = facts.kind if facts else ""
    if kind and kind not in consent.media_kinds:
        problems.insert(
            0,
            Problem(
                ProblemCode.NOT_COVERED_BY_CONSENT,
                f"The person's consent does not cover {KIND_WORDS[kind]}, so this file can't be used.",
            ),
        )
    accepted = bool(kind) and not any(p.severity == "error" for p in problems)
    forwarded_sha256 = ""
    if accepted:
        try:
            changed = strip_location_metadata(
                path, orientation=facts.orientation if facts else None
            )
            forwarded_sha256 = _sha256_of(path) if changed else sha256
        except MetadataError as error:
            logger.warning("refusing %s: %s", path.name, error)
            problems.append(
                Problem(
                    ProblemCode.CORRUPT,
                    "The file is too damaged to remove its location data safely, so it can't be "
                    "sent; export it again from the app that made it.",
                )
            )
            accepted = False
    errors = [p for p in problems if p.severity == "error"]
    # Kept (moved into MEDIA_ROOT, or uploaded to the bucket) only once checked and stripped.
    stored_name = _keep(path) if accepted else ""
    with transaction.atomic():
        asset = Asset.objects.create(
            group=group,
            kind=kind,
            status=Status.VALIDATED if accepted else Status.REJECTED,
            original_name=display_name,
            upstream_name=f"sitter-{uuid.uuid4().hex}",
            size_bytes=size,
            sha256=sha256,
            forwarded_sha256=forwarded_sha256,
            content_type=facts.mime if facts else "",
            file=stored_name,
            facts=facts.as_dict() if facts else {},
            warnings=[p.as_dict() for p in problems],
            error_message=" ".join(p.message for p in errors),
            uploaded_by=uploader.user,
            uploaded_by_person=uploader.user is None,
            consent=consent,
            completed_at=None if accepted else timezone.now(),
            # Should the queued message be lost, the forwarding sweep finds the asset after this.
            next_check_at=timezone.now() + timedelta(minutes=2) if accepted else None,
        )
        record(
            action="asset.received" if accepted else "asset.rejected",
            actor=uploader.actor,
            subject=asset,
            person_id=group.person_id,
            payload={
                "group_id": group.upstream_id,
                "sha256": sha256,
                **({"forwarded_sha256": forwarded_sha256} if accepted else {}),
                "size_bytes": size,
                "kind": kind,
                "consent": consent.pk,
                "problems": [p.as_dict() for p in problems],
            },
            request=request,
        )
        if accepted:
            from assets.tasks import forward_asset

            enqueue_on_commit(forward_asset, asset.pk, sweep="assets.tasks.sweep_forwarding")
    if not accepted:
        path.unlink(missing_ok=True)
    return asset


def _keep(path: Path) -> str:
    try:
        return storage.keep(path)
    except storage.STORAGE_ERRORS as error:
        logger.error("could not keep an upload: %s", error)
        raise StorageUnavailable(
            "The file could not be stored (the media storage did not answer), so nothing was "
            "recorded. Please try again in a few minutes."
        ) from error


def _spool(upload: UploadedFile) -> tuple[Path, str, int]:
    """The upload as a local file to check and strip before it is kept; returns its path, SHA-256
    and size. A file the upload handler already spooled to disk and hashed (`assets.uploads`) is
    moved, never read again; any other is written out and hashed in the same pass."""
    path = storage.new_spool()
    if isinstance(upload, HashedUpload):
        # Move before closing: closing deletes Django's temporary file.
        shutil.move(upload.temporary_file_path(), path)
        upload.close()
        sha256 = upload.sha256
    else:
        digest = hashlib.sha256()
        with path.open("wb") as out:
            for chunk in upload.chunks():
                digest.update(chunk)
                out.write(chunk)
        sha256 = digest.hexdigest()
    path.chmod(0o600)
    return path, sha256, path.stat().st_size


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stored:
        while chunk := stored.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# --- Forwarding --------------------------------------------------------------------------------


class ForwardLater(Exception):
    """Forwarding could not happen now; try again after `delay` seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


@storage.spools_removed_after
def forward(*, asset_id: int) -> None:
    """Send one validated asset upstream, exactly once, even when run twice or after a crash.

    The unique upstream Name is the key: the client looks it up before creating, so a lost
    answer, a killed worker or a redelivered task finds the asset that already exists. Images and
    videos get the face pre-check first (once, whatever the retries).
    """
    now = timezone.now()
    claimed = Asset.objects.filter(pk=asset_id, status=Status.VALIDATED).update(
        status=Status.FORWARDING, lease_until=now + settings.ASSET_FORWARD_LEASE, updated_at=now
    ) or Asset.objects.filter(pk=asset_id, status=Status.FORWARDING, lease_until__lt=now).update(
        lease_until=now + settings.ASSET_FORWARD_LEASE, updated_at=now
    )
    if not claimed:
        return
    asset = Asset.objects.select_related("group__account", "consent").get(pk=asset_id)
    Asset.objects.filter(pk=asset.pk).update(forward_attempts=asset.forward_attempts + 1)
    if asset.consent is None or not asset.consent.covers(asset.kind):
        _reject_for_consent(asset)
        return
    group = asset.group
    if (
        asset.kind in FACE_CHECKED_KINDS
        and asset.face_checked_at is None
        and not _check_picture(asset)
    ):
        return
    try:
        client = client_for(group.account)
        source = _source_for(asset)
        try:
            upstream_id = _create(client, asset, source)
        except SourceTooLarge:
            # Refused before anything was created (by our own cap, or the upstream's 413): a
            # file whose Base64 body would pass the cap travels another way instead.
            if not isinstance(source, InlineSource):
                raise
            source = _instead_of_inline(asset, client)
            logger.info("asset %s is too large to inline; sending it %s", asset.pk, _mode(source))
            upstream_id = _create(client, asset, source)
    except UpstreamUnavailable as error:
        _back_to_validated(asset, error)
        raise ForwardLater(error.retry_after or _forward_backoff(asset), str(error)) from error
    except UpstreamAuthError as error:
        # Permanent until staff fix the account; the sweep tries again every few minutes.
        _back_to_validated(asset, error)
        raise ForwardLater(300, str(error)) from error
    except UpstreamRejected as error:
        _fail(asset, error.code, f"{error.explanation} {error.fix}".strip(), forwarded=False)
        return
    now = timezone.now()
    with transaction.atomic():
        if asset.move(
            Status.FORWARDING,
            Status.PROCESSING,
            upstream_id=upstream_id,
            upstream_status="Processing",
            forwarded_at=now,
            lease_until=None,
            next_check_at=now + timedelta(seconds=CHECK_BACKOFF[0]),
            error_code="",
            error_message="",
        ):
            record(
                action="asset.forwarded",
                actor=Actor.system(),
                subject=asset,
                person_id=group.person_id,
                payload={
                    "upstream_id": upstream_id,
                    "name": asset.upstream_name,
                    "sha256": asset.sha256,
                    "forwarded_sha256": asset.forwarded_sha256,
                    "mode": _mode(source),
                },
            )


def _create(
    client: UpstreamClient, asset: Asset, source: InlineSource | MultipartSource | UrlSource
) -> str:
    return client.create_asset(
        group_id=asset.group.upstream_id,
        name=asset.upstream_name,
        asset_type=ASSET_TYPES[asset.kind],
        source=source,
    )


def _instead_of_inline(asset: Asset, client: UpstreamClient) -> MultipartSource | UrlSource:
    """How a file too large for an inline body travels: multipart where the adapter takes it
    (it needs no public address, which is why inline was chosen), else by URL."""
    if client.supports_multipart:
        return MultipartSource(
            path=storage.local_path(asset.file),
            content_type=asset.content_type,
            filename=asset.upstream_name,
        )
    return UrlSource(url=fetch_url(asset))


def _mode(source: InlineSource | MultipartSource | UrlSource) -> str:
    if isinstance(source, InlineSource):
        return "inline"
    return "multipart" if isinstance(source, MultipartSource) else "url"


def _check_picture(asset: Asset) -> bool:
    """Decode the picture (every key frame of a video), then run the face pre-check on it, here
    before the paid call rather than in the web request: a HEIC decode costs ~100 MB, and
    MediaPipe ~110 MB and ~1.2 s to load. A picture that can't be decoded refuses the asset,
    which is then never sent (returns False); the face check itself is advice only."""
    from assets.media.face import FaceRules, face_warnings  # numpy and MediaPipe: workers only
    from assets.media.pixels import decoded_picture

    path, facts = storage.local_path(asset.file), MediaFacts.from_dict(asset.facts)
    try:
        picture = decoded_picture(path, facts, FaceRules().detect_side_px)
    except MediaError as error:
        _refuse_undecodable(asset, error.problem)
        return False
    found = [p.as_dict() for p in face_warnings(path, facts, picture=picture)]
    now = timezone.now()
    with transaction.atomic():
        checked = Asset.objects.filter(pk=asset.pk, face_checked_at__isnull=True).update(
            warnings=[*asset.warnings, *found], face_checked_at=now, updated_at=now
        )
        if checked:
            record(
                action="asset.face_checked",
                actor=Actor.system(),
                subject=asset,
                person_id=asset.group.person_id,
                payload={"sha256": asset.sha256, "problems": found},
            )
    return True


def _refuse_undecodable(asset: Asset, problem: Problem) -> None:
    with transaction.atomic():
        if asset.move(
            Status.FORWARDING,
            Status.REJECTED,
            lease_until=None,
            error_code=str(problem.code),
            error_message=problem.message,
            warnings=[*asset.warnings, problem.as_dict()],
            completed_at=timezone.now(),
            next_check_at=None,
        ):
            record(
                action="asset.rejected",
                actor=Actor.system(),
                subject=asset,
                person_id=asset.group.person_id,
                payload={"sha256": asset.sha256, "problems": [problem.as_dict()]},
            )


def _forward_backoff(asset: Asset) -> float:
    return float(min(300, 5 * 2 ** max(asset.forward_attempts - 1, 0)))


def _back_to_validated(asset: Asset, error: UpstreamError) -> None:
    Asset.objects.filter(pk=asset.pk, status=Status.FORWARDING).update(
        status=Status.VALIDATED,
        lease_until=None,
        error_code=error.code,
        error_message=f"Not sent yet: {error.explanation}",
        next_check_at=timezone.now() + timedelta(seconds=_forward_backoff(asset)),
        updated_at=timezone.now(),
    )


def _reject_for_consent(asset: Asset) -> None:
    with transaction.atomic():
        if asset.move(
            (Status.VALIDATED, Status.FORWARDING),
            Status.REJECTED,
            lease_until=None,
            error_code="ConsentNotActive",
            error_message="The person's consent no longer covers this file, so it was not sent.",
            completed_at=timezone.now(),
        ):
            record(
                action="asset.rejected",
                actor=Actor.system(),
                subject=asset,
                person_id=asset.group.person_id,
                payload={"reason": "consent not active", "sha256": asset.sha256},
            )


def _source_for(asset: Asset) -> UrlSource | InlineSource | MultipartSource:
    """The stored copy, as the upstream gets it (its location metadata went at intake)."""
    mode = settings.ASSET_FORWARDING_MODE
    if mode == "inline":
        return InlineSource(path=storage.local_path(asset.file), content_type=asset.content_type)
    if mode == "multipart":
        return MultipartSource(
            path=storage.local_path(asset.file),
            content_type=asset.content_type,
            filename=asset.upstream_name,
        )
    return UrlSource(url=fetch_url(asset))


def fetch_url(asset: Asset) -> str:
    """Where the upstream downloads the file: straight from the bucket by a short presigned URL
    when media is in object storage, else the portal's signed URL (`upstream_fetch`)."""
    if storage.in_bucket():
        return storage.presigned_url(
            asset.file.name, ttl=settings.MEDIA_PRESIGNED_URL_TTL, content_type=asset.content_type
        )
    token = signing.dumps({"asset": asset.pk, "name": asset.upstream_name}, salt=FETCH_SALT)
    return settings.PUBLIC_BASE_URL + reverse("fetch:fetch", args=[token])


def asset_for_fetch(signed: str) -> Asset | None:
    """The asset a signed download link names, while the upstream may still need its bytes."""
    try:
        data = signing.loads(signed, salt=FETCH_SALT, max_age=settings.ASSET_FETCH_TTL)
    except signing.BadSignature:
        return None
    return Asset.objects.filter(
        pk=data.get("asset"),
        upstream_name=data.get("name"),
        status__in=(Status.FORWARDING, Status.PROCESSING),
    ).first()


# --- Following ---------------------------------------------------------------------------------


def claim_due_checks(*, batch: int = 200, now: datetime | None = None) -> list[int]:
    """Assets processing upstream whose next check is due; claimed by pushing the time on."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Asset.objects.filter(status=Status.PROCESSING, next_check_at__lte=now)
            .order_by("next_check_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch]
        )
        if ids:
            Asset.objects.filter(pk__in=ids).update(next_check_at=now + timedelta(seconds=60))
    return ids


def refresh_status(*, asset: Asset) -> Asset:
    """Ask the upstream where the asset stands and move it on when it is Active, Failed or
    Inactive (then it is no longer followed)."""
    if asset.status != Status.PROCESSING:
        return asset
    group = asset.group
    client = client_for(group.account)
    try:
        try:
            info = client.get_asset(asset_id=asset.upstream_id, group_id=group.upstream_id)
        except AssetNotFound as error:
            # "Not found" is also the upstream's answer for an Id it gave to a duplicate Name
            # (CONTRACT.md §1): the asset holding our unique Name is ours, under another Id.
            adopted = _adopt_by_name(asset, client)
            if adopted is None:
                _fail(
                    asset,
                    error.code or "NotFound.asset_id",
                    f"{error.explanation} {error.fix}".strip(),
                )
                return _reloaded(asset)
            info = adopted
    except UpstreamError as error:
        logger.warning("status check of asset %s failed: %s", asset.pk, error)
        _check_later(asset, getattr(error, "retry_after", None))
        return _reloaded(asset)
    if info.status.is_active:
        _activate(asset, info.status.value)
    elif info.status.is_inactive:
        _deactivate(asset, info.status.value)
    elif info.status.is_failed:
        code = info.error_code or "Failed"
        explanation, fix = explain(code)
        message = f"{explanation} {fix}".strip() or info.error_message
        _fail(asset, code, message, upstream_status=info.status.value)
    else:
        Asset.objects.filter(pk=asset.pk).update(upstream_status=info.status.value)
        _check_later(asset)
    return _reloaded(asset)


def _reloaded(asset: Asset) -> Asset:
    asset.refresh_from_db()
    return asset


def _adopt_by_name(asset: Asset, client: UpstreamClient) -> AssetInfo | None:
    """The upstream asset holding this asset's unique Name, made its upstream Id; or None."""
    found = client.find_asset_by_name(group_id=asset.group.upstream_id, name=asset.upstream_name)
    if found is None or found.id == asset.upstream_id:
        return None
    old = asset.upstream_id
    with transaction.atomic():
        # Compare-and-swap on the old Id too: of two checks racing, one records the adoption.
        if Asset.objects.filter(pk=asset.pk, status=Status.PROCESSING, upstream_id=old).update(
            upstream_id=found.id, updated_at=timezone.now()
        ):
            asset.upstream_id = found.id
            record(
                action="asset.adopted",
                actor=Actor.system(),
                subject=asset,
                person_id=asset.group.person_id,
                payload={"upstream_id": found.id, "replaced": old, "name": asset.upstream_name},
            )
    logger.warning(
        "asset %s: upstream %s was not found; adopted %s by name", asset.pk, old, found.id
    )
    return found


def _check_later(asset: Asset, retry_after: float | None = None) -> None:
    age = (timezone.now() - (asset.forwarded_at or timezone.now())).total_seconds()
    step = next((delay for delay in CHECK_BACKOFF if delay * 3 > age), CHECK_BACKOFF[-1])
    delay = max(step, retry_after or 0)
    Asset.objects.filter(pk=asset.pk, status=Status.PROCESSING).update(
        next_check_at=timezone.now() + timedelta(seconds=delay)
    )


def _activate(asset: Asset, upstream_status: str) -> None:
    with transaction.atomic():
        if asset.move(
            Status.PROCESSING,
            Status.ACTIVE,
            upstream_status=upstream_status,
            completed_at=timezone.now(),
            next_check_at=None,
        ):
            record(
                action="asset.active",
                actor=Actor.system(),
                subject=asset,
                person_id=asset.group.person_id,
                payload={"upstream_id": asset.upstream_id, "sha256": asset.sha256},
            )


INACTIVE_MESSAGE = (
    "The upstream holds this file but reports it Inactive, so it can't be used in Seedance 2.0 "
    "requests (asset://) and the portal stopped following it. Upload the file again; if new "
    "uploads turn Inactive too, ask the upstream's support what Inactive means for the account."
)


def _deactivate(asset: Asset, upstream_status: str) -> None:
    with transaction.atomic():
        if asset.move(
            Status.PROCESSING,
            Status.INACTIVE,
            upstream_status=upstream_status,
            error_code="Inactive",
            error_message=INACTIVE_MESSAGE,
            completed_at=timezone.now(),
            next_check_at=None,
        ):
            record(
                action="asset.inactive",
                actor=Actor.system(),
                subject=asset,
                person_id=asset.group.person_id,
                payload={"upstream_id": asset.upstream_id, "sha256": asset.sha256},
            )


def _fail(
    asset: Asset, code: str, message: str, *, upstream_status: str = "", forwarded: bool = True
) -> None:
    olds = (Status.PROCESSING,) if forwarded else (Status.FORWARDING, Status.VALIDATED)
    with transaction.atomic():
        if asset.move(
            olds,
            Status.FAILED,
            upstream_status=upstream_status,
            error_code=code,
            error_message=message,
            completed_at=timezone.now(),
            next_check_at=None,
            lease_until=None,
        ):
            record(
                action="asset.failed",
                actor=Actor.system(),
                subject=asset,
                person_id=asset.group.person_id,
                payload={"upstream_id": asset.upstream_id, "code": code, "sha256": asset.sha256},
            )


def stalled_forwarding_ids(*, now: datetime | None = None) -> list[int]:
    """Validated assets whose retry time came, and forwards whose worker died (lease expired)."""
    now = now or timezone.now()
    due = Q(status=Status.VALIDATED, next_check_at__lte=now) | Q(
        status=Status.FORWARDING, lease_until__lt=now
    )
    return list(Asset.objects.filter(due).order_by("pk").values_list("pk", flat=True)[:500])


# --- Deleting ----------------------------------------------------------------------------------


def delete_asset(*, asset: Asset, actor: Actor, reason: str) -> None:
    """Delete the asset upstream (if it got there; already gone counts as deleted), record it,
    then remove its local files. Safe to run again. The one way an asset is deleted: the staff
    page, the admin's action, withdrawal and retention all come here.

    `reason`: why, in words, when staff delete (required then; the ledger keeps it with who).
    Raises an `UpstreamError` when the upstream did not delete it: then nothing changes here.
    """
    require_reason(actor, reason)
    if asset.status != Status.DELETED and asset.upstream_id:
        with contextlib.suppress(AssetNotFound):
            client_for(asset.group.account).delete_asset(asset_id=asset.upstream_id)
    with transaction.atomic():
        if asset.move(tuple(Asset.Status.values), Status.DELETED, completed_at=timezone.now()):
            record(
                action="asset.deleted",
                actor=actor,
                subject=asset,
                person_id=asset.group.person_id,
                payload={
                    "upstream_id": asset.upstream_id,
                    "sha256": asset.sha256,
                    "reason": reason,
                },
            )
    destroy_local_copies(asset)


def destroy_local_copies(asset: Asset) -> None:
    """The stored file (the one copy kept here, on disk or in the bucket); the row and its
    SHA-256s stay."""
    if asset.file:
        storage.delete(asset.file.name)
        Asset.objects.filter(pk=asset.pk).update(file="")

"""The upstream client: domain-named methods over either adapter (``AnyfastClient``,
``BytePlusClient``), returning frozen values from ``upstream.types``, raising ``upstream.errors``.

Reads and deletes retry per ``upstream.retry``. ``CreateAsset`` is never resent blindly:

- no connection or a rate limit (nothing reached the upstream): wait, send again;
- an answer that may hide a commit (5xx, garbled 2xx): wait, look the asset up by its Name in the
  group, return its Id if it landed, else send again;
- no answer at all (read timeout, dropped connection): wait, look it up; if it isn't there,
  raise ``UpstreamUnavailable`` rather than resend, since the request may still be in flight.

At most ``RetryPolicy.create_sends`` sends per call; then ``UpstreamUnavailable``. The caller's task
may always retry with the same Name: ``create_asset`` looks the Name up before its first send.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from upstream import errors, results
from upstream.bodies import StreamBody, json_with_inline_file
from upstream.pacing import Pacing
from upstream.recording import CallRecord, NullRecorder, Recorder, log_call
from upstream.redaction import redact
from upstream.retry import RetryPolicy, retrying
from upstream.transport import Answer, HttpResponse, Prepared, Transport
from upstream.types import (
    AssetInfo,
    AssetPage,
    AssetSource,
    AssetType,
    GroupInfo,
    GroupPage,
    InlineSource,
    MultipartSource,
    UrlSource,
    VerificationResult,
    VerificationStart,
)

logger = logging.getLogger("upstream")
T = TypeVar("T")

MAX_NAME_CHARS = 64
# A BytedToken's shape (14-digit timestamp + 20 upper-case hex) for a session that can't exist:
# its timestamp is in the year 2000.
PROBE_BYTED_TOKEN = "20000101000000" + "0" * 20
DEFAULT_INLINE_MAX_BYTES = 64_000_000  # request bodies are capped "around 64 MB" upstream
_MAX_PAGES = 10_000


def _ignore(_: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class CredentialCheck:
    """What ``check_credentials`` could establish beyond "the credentials are accepted"."""

    sessions_confirmed: bool  # the credential may start verification sessions
    note: str


class UpstreamClient(ABC):
    """Both adapters' shared behaviour. Adapters supply request building and answer reading."""

    adapter: ClassVar[str]
    # Whether files can travel as multipart form uploads.
    supports_multipart: ClassVar[bool] = False

    def __init__(
        self,
        *,
        base_url: str,
        transport: Transport,
        policy: RetryPolicy | None = None,
        recorder: Recorder | None = None,
        label: str = "",
        inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES,
        pacing: Pacing | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.strip().rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.AccountMisconfigured("the base URL is not an http(s) address")
        self.transport = transport
        self.policy = policy or RetryPolicy()
        self.recorder = recorder or NullRecorder()
        self.label = label or self.adapter
        self.inline_max_bytes = inline_max_bytes
        self.pacing = pacing
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r} {self.base_url}>"

    # --- Adapter hooks ----------------------------------------------------------------------

    @abstractmethod
    def _secrets(self) -> tuple[str, ...]:
        """Every credential string, so nothing that echoes one can leak it."""

    @abstractmethod
    def _defaults(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload plus the adapter's own fields (``model``, or ``ProjectName``)."""

    @abstractmethod
    def _prepare(self, action: str, body: dict[str, Any] | StreamBody) -> Prepared:
        """A ready request; dict bodies still need ``_defaults`` applied."""

    @abstractmethod
    def _interpret(self, action: str, response: HttpResponse) -> Answer:
        """The result object of a success, or raise the matching ``UpstreamError``."""

    def _multipart(self, fields: dict[str, str], source: MultipartSource) -> StreamBody:
        raise errors.SourceNotSupported(f"{type(self).__name__} can't send multipart uploads")

    # --- One attempt, recorded --------------------------------------------------------------

    def _attempt(
        self, action: str, body: dict[str, Any] | StreamBody, parse: Callable[[dict[str, Any]], T]
    ) -> T:
        started = time.monotonic()
        status: int | None = None
        request_id = code = message = ""
        try:
            if self.pacing is not None:
                self.pacing.wait_turn(action)  # the account's QPS limit, across all workers
                started = time.monotonic()
            prepared = self._prepare(action, body)
            response = self.transport.send(
                method=prepared.method,
                url=prepared.url,
                headers=prepared.headers,
                body=prepared.body,
                action=action,
            )
            status = response.status
            answer = self._interpret(action, response)
            request_id = answer.request_id
            try:
                return parse(answer.result)
            except results.Malformed as exc:
                raise errors.UnexpectedResponse(
                    str(exc), action=action, http_status=status, request_id=request_id
                ) from None
        except errors.UpstreamError as exc:
            exc.scrub(self._redact)
            status = exc.http_status if exc.http_status is not None else status
            request_id = exc.request_id or request_id
            code, message = exc.code, exc.message or exc.explanation
            raise
        except Exception as exc:
            code, message = f"Local.{type(exc).__name__}", self._redact(str(exc))
            raise
        finally:
            call = CallRecord(
                action=action,
                http_status=status,
                duration_ms=round((time.monotonic() - started) * 1000),
                error_code=code,
                error_message=message,
                request_id=request_id,
            )
            log_call(self.label, call)
            self.recorder.record(call)

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets())

    # --- Retry shapes -----------------------------------------------------------------------

    def _retrying(self, action: str, call: Callable[[], T]) -> T:
        return retrying(
            call, policy=self.policy, sleep=self._sleep, describe=f"{self.label} {action}"
        )

    def _read(
        self, action: str, payload: dict[str, Any], parse: Callable[[dict[str, Any]], T]
    ) -> T:
        return self._retrying(action, lambda: self._attempt(action, payload, parse))

    def _delete(
        self, action: str, payload: dict[str, Any], gone: type[errors.UpstreamRejected]
    ) -> None:
        """Deletes are retried like reads. "Not found" after an attempt that may have landed
        means that attempt did the work; on the first attempt it is an error."""
        uncertain = False

        def once() -> None:
            nonlocal uncertain
            try:
                self._attempt(action, payload, _ignore)
            except gone:
                if not uncertain:
                    raise
                logger.info(
                    "upstream %s %s: already gone after an uncertain attempt", self.label, action
                )
            except errors.UpstreamUnavailable as exc:
                uncertain = uncertain or exc.maybe_processed
                raise

        self._retrying(action, once)

    # --- Verification -----------------------------------------------------------------------

    def start_verification(self, *, callback_url: str) -> VerificationStart:
        """A new liveness session. Sent once (a fresh session is cheap; never loop on it)."""
        if not callback_url.startswith(("https://", "http://")):
            raise errors.MissingCallbackUrl(
                "no usable callback URL was given", action="CreateVisualValidateSession"
            )
        return self._attempt(
            "CreateVisualValidateSession",
            {"CallbackURL": callback_url},
            lambda r: results.verification_start(r, callback_url=callback_url),
        )

    def get_verification_result(self, *, byted_token: str) -> VerificationResult:
        """``group_id`` is "" until the person has finished on the phone."""
        return self._read(
            "GetVisualValidateResult",
            {"BytedToken": byted_token},
            lambda r: results.verification_result(r, byted_token=byted_token),
        )

    # --- Assets -----------------------------------------------------------------------------

    def create_asset(
        self,
        *,
        group_id: str,
        name: str,
        asset_type: AssetType,
        source: AssetSource,
        check_existing: bool = True,
    ) -> str:
        """Upload one asset and return its upstream Id (the asset is still Processing).

        ``name`` must be unique in the group per upload: it is how a create whose answer was lost
        is found again. With ``check_existing`` (default) an asset already holding that name is
        returned instead of paying for a second one; that makes a caller's retry safe.
        Refusals made before sending (file too large to inline, unsupported source) raise
        ``SourceTooLarge``/``SourceNotSupported`` without any call.
        """
        if not group_id:
            raise ValueError("group_id is required")
        if not name or len(name) > MAX_NAME_CHARS:
            raise ValueError(f"name must be 1–{MAX_NAME_CHARS} characters")
        asset_type = AssetType(asset_type)
        body = self._asset_body(
            {"GroupId": group_id, "Name": name, "AssetType": asset_type.value}, source
        )
        if check_existing and (found := self.find_asset_by_name(group_id=group_id, name=name)):
            logger.info("upstream %s CreateAsset skipped: %s already exists", self.label, found.id)
            return found.id
        sends = 0
        while True:
            sends += 1
            try:
                return self._attempt("CreateAsset", body, results.asset_id)
            except (errors.DuplicateName, errors.AssetNotFound):
                # Either answer can mean that the Name exists in the group (CONTRACT.md §1 names
                # NotFound.asset_id for a duplicate Name): someone (a concurrent worker, an
                # earlier lost answer) already made it. Adopt that asset.
                if found := self.find_asset_by_name(group_id=group_id, name=name):
                    logger.info(
                        "upstream %s CreateAsset: %s already holds the name", self.label, found.id
                    )
                    return found.id
                raise
            except errors.UpstreamUnavailable as exc:
                delay = self.policy.delay(sends - 1, exc.retry_after)
                if delay > self.policy.budget or (
                    sends >= self.policy.create_sends and not exc.maybe_processed
                ):
                    raise
                self._sleep(delay)
                if exc.maybe_processed:
                    if found := self.find_asset_by_name(group_id=group_id, name=name):
                        logger.warning(
                            "upstream %s CreateAsset answer was lost (%s) but %s exists: using it",
                            self.label,
                            exc.code,
                            found.id,
                        )
                        return found.id
                    if exc.http_status is None:
                        # No answer at all: the upstream may still be working on the request,
                        # and a resend now could make a second asset. The caller's later retry
                        # looks the name up again first.
                        raise
                if sends >= self.policy.create_sends:
                    raise

    def _asset_body(
        self, fields: dict[str, str], source: AssetSource
    ) -> dict[str, Any] | StreamBody:
        if isinstance(source, UrlSource):
            return {**fields, "URL": source.url}
        if isinstance(source, InlineSource):
            body = json_with_inline_file(
                self._defaults("CreateAsset", fields),
                key="URL",
                path=source.path,
                content_type=source.content_type,
            )
            if len(body) > self.inline_max_bytes:
                raise errors.SourceTooLarge(
                    f"inline body would be {len(body):,} bytes, "
                    f"over the {self.inline_max_bytes:,}-byte cap",
                    action="CreateAsset",
                )
            return body
        if isinstance(source, MultipartSource):
            return self._multipart(fields, source)
        raise TypeError(f"not an asset source: {source!r}")

    def find_asset_by_name(self, *, group_id: str, name: str) -> AssetInfo | None:
        """The asset called exactly ``name`` in the group, or None. If the upstream holds several
        (it shouldn't), the oldest wins: later duplicates die upstream anyway."""
        matches = [
            asset
            for asset in self.iter_assets(group_ids=[group_id], name=name)
            if asset.name == name and asset.group_id in ("", group_id)
        ]
        if len(matches) > 1:
            logger.warning(
                "upstream %s: %d assets named %r in %s", self.label, len(matches), name, group_id
            )
        far = datetime.max.replace(tzinfo=UTC)
        return min(matches, key=lambda a: (a.create_time or far, a.id)) if matches else None

    def get_asset(self, *, asset_id: str, group_id: str | None = None) -> AssetInfo:
        """One asset. If GetAsset says NotFound and ``group_id`` is given, the group's listing is
        searched too: whether GetAsset sees real-human assets is uncertain (CONTRACT.md)."""
        try:
            return self._read("GetAsset", {"Id": asset_id}, results.asset_info)
        except errors.AssetNotFound:
            if not group_id:
                raise
            for asset in self.iter_assets(group_ids=[group_id]):
                if asset.id == asset_id:
                    return asset
            raise

    def list_assets(
        self,
        *,
        group_ids: Sequence[str] = (),
        statuses: Sequence[str] = (),
        name: str | None = None,
        group_type: str | None = None,
        page_number: int = 1,
        page_size: int = 100,
    ) -> AssetPage:
        """One page (``page_number`` from 1, ``page_size`` at most 100)."""
        filters: dict[str, Any] = {}
        if group_ids:
            filters["GroupIds"] = list(group_ids)
        if statuses:
            filters["Statuses"] = list(statuses)
        if name:
            filters["Name"] = name
        if group_type:
            filters["GroupType"] = group_type
        payload = {
            "Filter": filters,
            "PageNumber": page_number,
            "PageSize": min(max(page_size, 1), 100),
        }
        return self._read(
            "ListAssets",
            payload,
            lambda r: results.asset_page(r, page_number=page_number, page_size=page_size),
        )

    def iter_assets(
        self,
        *,
        group_ids: Sequence[str] = (),
        statuses: Sequence[str] = (),
        name: str | None = None,
        group_type: str | None = None,
        page_size: int = 100,
    ) -> Iterator[AssetInfo]:
        """Every matching asset, page after page."""
        seen = 0
        for number in range(1, _MAX_PAGES + 1):
            page = self.list_assets(
                group_ids=group_ids,
                statuses=statuses,
                name=name,
                group_type=group_type,
                page_number=number,
                page_size=page_size,
            )
            yield from page.items
            seen += len(page.items)
            if not page.items or seen >= page.total_count:
                return

    def delete_asset(self, *, asset_id: str) -> None:
        self._delete("DeleteAsset", {"Id": asset_id}, errors.AssetNotFound)

    # --- Groups -----------------------------------------------------------------------------

    def delete_group(self, *, group_id: str) -> None:
        """Deletes the group and every asset in it."""
        self._delete("DeleteAssetGroup", {"Id": group_id}, errors.GroupNotFound)

    def list_groups(
        self,
        *,
        page_number: int = 1,
        page_size: int = 100,
        group_type: str | None = None,
        group_id: str | None = None,
    ) -> GroupPage:
        """One page of groups. LivenessFace groups may be missing here (CONTRACT.md §1): a group
        absent from this list is not thereby gone (see ``assets.reconcile``)."""
        filters: dict[str, Any] = {"GroupType": group_type} if group_type else {}
        if group_id:
            filters["Id"] = group_id
        payload = {
            "Filter": filters,
            "PageNumber": page_number,
            "PageSize": min(max(page_size, 1), 100),
        }
        return self._read(
            "ListAssetGroups",
            payload,
            lambda r: results.group_page(r, page_number=page_number, page_size=page_size),
        )

    def iter_groups(
        self, *, group_type: str | None = None, group_id: str | None = None
    ) -> Iterator[GroupInfo]:
        """Every listed group, page after page."""
        seen = 0
        for number in range(1, _MAX_PAGES + 1):
            page = self.list_groups(page_number=number, group_type=group_type, group_id=group_id)
            yield from page.items
            seen += len(page.items)
            if not page.items or seen >= page.total_count:
                return

    def check_credentials(self) -> CredentialCheck:
        """Two free reads: one page of ListAssets (are the credentials accepted at all?), then
        GetVisualValidateResult for a session that can't exist (may they do real-person work?).

        The second is the decisive one for Anyfast's token group: the gateway refuses sessions
        to tokens outside Byteplus-Direct (CONTRACT.md §1, doc), while whether it refuses
        *lists* filtered on LivenessFace is not known, so a list can't tell. An answer about the
        unknown session itself (not found, expired, or an empty result) shows the session call
        got past the group check. Any other refusal leaves the group unconfirmed, and the result
        says so. Raises the specific error for wrong credentials, a wrong group or an outage.
        """
        self._read(
            "ListAssets",
            {"Filter": {}, "PageNumber": 1, "PageSize": 1},
            lambda r: results.asset_page(r, page_number=1, page_size=1),
        )
        try:
            self.get_verification_result(byted_token=PROBE_BYTED_TOKEN)
        except errors.VerificationExpired:
            pass  # the upstream looked the probe session up: the call was allowed
        except (errors.UpstreamAuthError, errors.UpstreamUnavailable):
            raise
        except errors.UpstreamRejected as exc:
            return CredentialCheck(
                sessions_confirmed=False,
                note=(
                    "the upstream accepted the credentials, but answered the session probe with "
                    f"“{exc.code or exc.http_status}: {exc.message or exc.explanation}”, which "
                    "doesn't show whether it may start verification sessions; the first real "
                    "session will tell"
                ),
            )
        return CredentialCheck(sessions_confirmed=True, note=self._sessions_allowed_note)

    _sessions_allowed_note: ClassVar[str] = (
        "the upstream accepted the credentials and a verification-session read"
    )

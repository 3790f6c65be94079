"""What the upstream client returns and accepts: small frozen values, never raw dicts.

Field names follow the portal, not the wire (see CONTRACT.md §1 for the wire names).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)


class AssetType(StrEnum):
    IMAGE = "Image"
    VIDEO = "Video"
    AUDIO = "Audio"


# The H5 page understands exactly these (CONTRACT.md §2); Django language codes map onto them.
H5_LANGUAGES = ("en", "zh", "zh-Hant")


def h5_language(code: str) -> str:
    """The H5 page's `lng` for a language code such as ``en-gb``, ``zh-hans`` or ``zh-TW``.

    Anything the page doesn't speak falls back to English, which every person can at least
    recognise as a language choice; Chinese scripts map to the matching variant.
    """
    norm = code.strip().lower().replace("_", "-")
    if norm.startswith("zh"):
        traditional = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")
        return "zh-Hant" if norm.startswith(traditional) else "zh"
    return "en"


@dataclass(frozen=True)
class VerificationStart:
    """A fresh liveness session. The H5 link lives about 120 s: hand it to the person's phone at
    once (redirect or QR code), never by email or SMS."""

    byted_token: str
    h5_link: str
    callback_url: str

    def h5_link_for_language(self, lng: str) -> str:
        """The H5 link with its `lng` query parameter set (added, or replaced if present)."""
        parts = urlsplit(self.h5_link)
        # Edit the raw query rather than decode and re-encode it: the link is opaque and may be
        # signed over its exact text.
        kept = [item for item in parts.query.split("&") if item and item.split("=")[0] != "lng"]
        query = "&".join([*kept, f"lng={h5_language(lng)}"])
        return urlunsplit(parts._replace(query=query))

    def __repr__(self) -> str:
        # The token lets anyone read the result: keep it out of logs and tracebacks.
        return f"VerificationStart(byted_token='{self.byted_token[:14]}…')"


@dataclass(frozen=True)
class VerificationResult:
    """`group_id` stays "" until the person finished on the phone and reached the callback."""

    byted_token: str
    group_id: str

    @property
    def finished(self) -> bool:
        return self.group_id != ""

    def __repr__(self) -> str:
        token = self.byted_token[:14]
        return f"VerificationResult(byted_token='{token}…', group_id={self.group_id!r})"


@dataclass(frozen=True)
class AssetStatus:
    """An asset's upstream status, kept as the upstream spelled it.

    Known: Processing → Active | Failed; Inactive appears on one Anyfast page. An unknown value is
    kept verbatim, counts as not terminal (so pollers keep looking) and is logged once per parse.
    """

    value: str

    PROCESSING: ClassVar[str] = "Processing"
    ACTIVE: ClassVar[str] = "Active"
    FAILED: ClassVar[str] = "Failed"
    INACTIVE: ClassVar[str] = "Inactive"
    KNOWN: ClassVar[frozenset[str]] = frozenset({PROCESSING, ACTIVE, FAILED, INACTIVE})

    @classmethod
    def parse(cls, raw: object) -> AssetStatus:
        value = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
        status = cls(value)
        if not status.is_known:
            logger.warning(
                "upstream asset status %r is unknown; treating it as not terminal", value
            )
        return status

    @property
    def is_known(self) -> bool:
        return self.value in self.KNOWN

    @property
    def is_processing(self) -> bool:
        return self.value == self.PROCESSING

    @property
    def is_active(self) -> bool:
        return self.value == self.ACTIVE

    @property
    def is_failed(self) -> bool:
        return self.value == self.FAILED

    @property
    def is_inactive(self) -> bool:
        return self.value == self.INACTIVE

    @property
    def is_terminal(self) -> bool:
        """Waiting longer won't change it: Active, Failed or Inactive."""
        return self.value in (self.ACTIVE, self.FAILED, self.INACTIVE)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class AssetInfo:
    """One upstream asset. The upstream's signed download URL is deliberately not kept: it is
    new on every read and expires in hours."""

    id: str
    name: str
    group_id: str
    asset_type: str  # an AssetType value, or whatever new type the upstream reports
    status: AssetStatus
    error_code: str
    error_message: str
    create_time: datetime | None
    update_time: datetime | None

    @property
    def reference(self) -> str:
        """How Seedance 2.0 requests name this asset (usable only once Active)."""
        return f"asset://{self.id}"


@dataclass(frozen=True)
class AssetPage:
    items: tuple[AssetInfo, ...]
    page_number: int
    page_size: int
    total_count: int


@dataclass(frozen=True)
class GroupInfo:
    id: str
    name: str
    group_type: str  # "AIGC" or "LivenessFace"
    project_name: str
    create_time: datetime | None
    update_time: datetime | None


@dataclass(frozen=True)
class GroupPage:
    items: tuple[GroupInfo, ...]
    page_number: int
    page_size: int
    total_count: int


# --- How an asset's bytes travel (CONTRACT.md §5) -------------------------------------------------


@dataclass(frozen=True)
class UrlSource:
    """The upstream downloads the file itself: the URL must be public and outlive the download."""

    url: str

    def __repr__(self) -> str:
        # Presigned URLs carry their signature in the query: show only where they point.
        parts = urlsplit(self.url)
        return f"UrlSource('{parts.scheme}://{parts.netloc}{parts.path}')"


@dataclass(frozen=True)
class InlineSource:
    """The file travels inside the JSON body as a ``data:`` URI (Base64: ~1.33× the file)."""

    path: Path
    content_type: str


@dataclass(frozen=True)
class MultipartSource:
    """The file travels as a multipart form upload (Anyfast only)."""

    path: Path
    content_type: str
    filename: str


AssetSource = UrlSource | InlineSource | MultipartSource

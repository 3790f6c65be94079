"""Where asset files are kept: under MEDIA_ROOT (the default) or in an S3-compatible bucket
(MEDIA_STORAGE_URL), both through Django's storage API, so intake, forwarding and deletion have
one code path and only this module knows the difference.

- `keep` stores a checked local file (the upload's spool, its metadata already removed) under a
  random name: the filesystem moves it into place, the bucket takes it by multipart upload,
  streamed from the spool part by part (portal/objectstore.py bounds the parts held in memory).
- `local_path` gives the libraries that need a path (probing, decoding, inline and multipart
  forwarding) one: the file itself on the filesystem, else a spool copied from the bucket and
  removed when the enclosing `spools_removed_after` call returns.
- `presigned_url` lets the upstream (or a browser) fetch one object straight from the bucket.
- `delete` removes the stored file; `stored_names` lists every kept file, for reconciliation.

Objects are private: no ACL is sent (the bucket's policy decides, and it must not be public).
"""

import contextvars
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db.models.fields.files import FieldFile
from django.utils import timezone

# What a storage failure raises: the filesystem's, and the bucket's (network, refusal, and a
# failed multipart upload, which boto3 reports as its own error).
STORAGE_ERRORS: tuple[type[Exception], ...] = (OSError, Boto3Error, BotoCoreError, ClientError)
FOLDER = "assets"
COPY_CHUNK = 1024 * 1024

_spools: contextvars.ContextVar[dict[str, Path] | None] = contextvars.ContextVar(
    "asset_spools", default=None
)


def media_storage() -> Storage:
    """The storage `Asset.file` uses (STORAGES["default"])."""
    return default_storage


def in_bucket() -> bool:
    """True when media is kept in object storage rather than under MEDIA_ROOT."""
    return not isinstance(media_storage(), FileSystemStorage)


class _Spooled(File):
    """A local file handed to `Storage.save`: FileSystemStorage moves a file that has a
    `temporary_file_path` instead of copying it; S3Storage streams it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path.open("rb"), name=path.name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def keep(spool: Path) -> str:
    """Store the local file `spool` under a new random name and return that name. On the
    filesystem the spool is moved into place; with a bucket it is uploaded and removed."""
    today = timezone.now()
    name = f"{FOLDER}/{today:%Y}/{today:%m}/{uuid.uuid4().hex}"
    content = _Spooled(spool)
    try:
        stored = media_storage().save(name, content, max_length=255)
    finally:
        content.close()
        spool.unlink(missing_ok=True)
    return stored


def new_spool() -> Path:
    """An empty private file in the upload temporary folder, for a copy to work on; inside a
    `spools_removed_after` call, removed when it ends (if nothing moved it away before)."""
    handle, name = tempfile.mkstemp(prefix="sitter-spool-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    os.close(handle)  # mkstemp made it 0600; it is reopened by path
    if (spools := _spools.get()) is not None:
        spools[f"spool:{name}"] = Path(name)  # removed with the scope, whatever happens
    return Path(name)


def spools_removed_after[**P, R](function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` with a spool scope: the local copies `local_path` makes of stored objects
    while it runs are shared (downloaded once) and removed when it returns or raises."""

    @functools.wraps(function)
    def scoped(*args: P.args, **kwargs: P.kwargs) -> R:
        if _spools.get() is not None:
            return function(*args, **kwargs)
        token = _spools.set({})
        try:
            return function(*args, **kwargs)
        finally:
            for path in (_spools.get() or {}).values():
                path.unlink(missing_ok=True)
            _spools.reset(token)

    return scoped


def local_path(file: FieldFile) -> Path:
    """A local path holding the stored file's bytes. Filesystem: the file itself. Bucket: a spool
    copied from the object, removed at the end of the enclosing `spools_removed_after` call (the
    one place allowed to ask, so no spool outlives its use)."""
    if not in_bucket():
        return Path(file.path)
    spools, name = _spools.get(), file.name or ""
    if spools is None:
        raise RuntimeError("local_path of a stored object needs a spools_removed_after scope")
    if name not in spools:
        spool = new_spool()
        spools[name] = spool
        with media_storage().open(name, "rb") as source, spool.open("wb") as out:
            shutil.copyfileobj(source, out, COPY_CHUNK)
    return spools[name]


def presigned_url(
    name: str | None,
    *,
    ttl: timedelta,
    filename: str = "",
    content_type: str = "",
    attachment: bool = False,
) -> str:
    """A URL that fetches the one object `name` straight from the bucket until `ttl` passes.
    `attachment` makes a browser save it (as `filename`) rather than show it."""
    parameters: dict[str, Any] = {}
    if content_type:
        parameters["ResponseContentType"] = content_type
    if attachment:
        safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "download"
        parameters["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
    storage: Any = media_storage()
    return str(storage.url(name or "", parameters=parameters, expire=int(ttl.total_seconds())))


def exists(name: str | None) -> bool:
    return bool(name) and media_storage().exists(name or "")


def delete(name: str | None) -> None:
    """Remove the stored file `name`; one already gone counts as removed."""
    if name:
        media_storage().delete(name)


def stored_names() -> Iterator[str]:
    """The name of every file kept under the assets folder."""
    storage = media_storage()
    pending = [FOLDER]
    while pending:
        folder = pending.pop()
        try:
            folders, files = storage.listdir(folder)
        except FileNotFoundError:
            continue
        pending.extend(f"{folder}/{sub}" for sub in folders)
        yield from (f"{folder}/{name}" for name in files)

"""Upload bodies are read as a stream: cut off once a file passes the configured size, spooled to
disk and hashed as they arrive, so a 50 MB video is never held in memory nor read twice."""

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

# Django reads the body in the smallest chunk any handler asks for (64 KB by default). gunicorn
# copies what it has buffered ahead (up to 1 MB) on every read, so 64 KB reads cost ~110 ms for a
# 44 MB upload and 1 MB reads ~20 ms.
CHUNK_SIZE = 1024 * 1024
# Files are hashed beside the parser: hashlib lets go of the GIL, so the ~33 ms of SHA-256 a 44 MB
# upload costs overlaps with receiving and writing it instead of adding to them. One thread per
# process keeps each file's chunks in order (and is more than the uploads need: ~1 GB/s).
_HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-sha256")
# Chunks that may wait for the hashing thread: bounds what an upload holds in memory (4 MB).
_HASH_BACKLOG = 4


class SizeLimitHandler(FileUploadHandler):
    """Runs before the spooling handler: counts each file's bytes and stops the upload past the
    limit, so an oversized file is refused while it streams in, not after it was written out."""

    chunk_size = CHUNK_SIZE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = 0
        self.exceeded = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.ASSET_UPLOAD_MAX_BYTES:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class HashedUpload(TemporaryUploadedFile):
    """An upload spooled to a temporary file, with the SHA-256 of its bytes as received."""

    sha256: str = ""


class HashingUploadHandler(FileUploadHandler):
    """Spools every file to a temporary file (whatever its size: the asset ends up on disk
    anyway, so a small one gains nothing from a detour through memory) and hashes each chunk on
    its way there."""

    chunk_size = CHUNK_SIZE

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.digest = hashlib.sha256()
        self.hashing: deque[Future[None]] = deque()
        self.file = HashedUpload(
            self.file_name or "upload", self.content_type, 0, self.charset, self.content_type_extra
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.hashing.append(_HASHING.submit(self.digest.update, raw_data))
        while len(self.hashing) > _HASH_BACKLOG:
            self.hashing.popleft().result()
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUpload:
        while self.hashing:
            self.hashing.popleft().result()
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self.digest.hexdigest()
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            path = Path(self.file.temporary_file_path())
            self.file.close()
            path.unlink(missing_ok=True)


def size_limited_upload(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Install the size guard and the hashing spool before anything reads the body. The CSRF
    check reads it, so the view is exempted from the middleware's check and checked inside,
    after the handlers are in place."""
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.upload_handlers = [SizeLimitHandler(request), HashingUploadHandler(request)]
        return protected(request, *args, **kwargs)

    return wrapper

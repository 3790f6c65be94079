"""Upload bodies: who may send one, and whether it can fit, is settled before its first byte is
read; then it is read as a stream, with a deadline, spooled to disk and hashed as it arrives, so a
50 MB video is never held in memory nor read twice.

An upload view is wrapped in `upload_endpoint` (outermost) and calls `admit` once its access check
has passed. Until then nothing can read the body: Django's CSRF middleware would parse the whole
multipart body to look for its token, so upload views are exempt from it and `admit` runs the same
check on a token taken from the `X-CSRFToken` header (the uploader script) or from the body's first
part (the plain form), peeked at without parsing the rest. An anonymous, oversized, forged or
unknown-link request costs the server at most that peek.
"""

import contextlib
import hashlib
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext, ngettext
from django.views.decorators.csrf import csrf_exempt

from assets.media.limits import MB, MediaLimits

# Django reads the body in the smallest chunk any handler asks for (64 KB by default). gunicorn
# copies what it has buffered ahead (up to 1 MB) on every read, so 64 KB reads cost ~110 ms for a
# 44 MB upload and 1 MB reads ~20 ms.
CHUNK_SIZE = 1024 * 1024
# Room in a body for what surrounds the file: part headers, the CSRF token, the project choice.
ENVELOPE_BYTES = 64 * 1024
# How much of a plain form's body is read to find its CSRF token (the form's first field).
PEEK_BYTES = 8 * 1024
CSRF_FIELD = "csrfmiddlewaretoken"
# Files are hashed beside the parser: hashlib lets go of the GIL, so the ~33 ms of SHA-256 a 44 MB
# upload costs overlaps with receiving and writing it instead of adding to them. One thread per
# process keeps each file's chunks in order (and is more than the uploads need: ~1 GB/s).
_HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-sha256")
# Chunks that may wait for the hashing thread: bounds what an upload holds in memory (4 MB).
_HASH_BACKLOG = 4
HOUR = timedelta(hours=1)


class UploadRefused(Exception):
    """The upload is not taken; `text` says why in words for the person, `status` is the HTTP
    status to answer with; `response`, when set, is the answer for a browser's plain form."""

    def __init__(self, status: int, text: str, response: HttpResponse | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.response = response


class UploadCutOff(Exception):
    """The body stopped arriving in time, or ended before its declared length."""


def largest_file_bytes() -> int:
    """The largest file an upload may carry: `ASSET_UPLOAD_MAX_BYTES` when set, else the largest
    the upstream takes of any kind (a video, by default)."""
    if settings.ASSET_UPLOAD_MAX_BYTES:
        return int(settings.ASSET_UPLOAD_MAX_BYTES)
    limits = MediaLimits.from_settings()
    return max(limits.image_max_bytes, limits.video_max_bytes, limits.audio_max_bytes)


def body_limit() -> int:
    """The largest request body accepted: one file of the largest size, and its envelope."""
    return largest_file_bytes() + ENVELOPE_BYTES


def too_large_text() -> str:
    """The one sentence, naming the same limit as docs/install.md, for a body that can't fit."""
    megabytes = largest_file_bytes() / MB
    return gettext(
        "The file is too large: one upload may be at most %(size)s MB. Send one file at a time."
    ) % {"size": f"{megabytes:.0f}" if megabytes >= 10 else f"{megabytes:.1f}"}


class GuardedBody:
    """Stands in for the request's body stream: nothing is read until the upload is admitted, the
    whole body is cut off at a deadline (idle reads time out, and a watchdog shuts the socket's
    reading side at the hard deadline, which no trickle can outlast), and bytes looked at before
    parsing are given back to the parser."""

    def __init__(self, request: HttpRequest) -> None:
        self._stream: Any = request._stream
        self._socket: socket.socket | None = request.META.get("gunicorn.socket")
        self.declared = int(request.META.get("CONTENT_LENGTH") or 0)
        self.received = 0
        self.admitted = False
        self._peeking = False
        self._pushed_back = b""
        self._deadline = time.monotonic() + settings.ASSET_UPLOAD_READ_SECONDS
        self._cut = threading.Event()
        self._watchdog: threading.Timer | None = None

    @classmethod
    def install(cls, request: HttpRequest) -> "GuardedBody":
        body = cls(request)
        request._stream = body  # type: ignore[assignment]  # read() and readline() are all it needs
        request.upload_body = body  # type: ignore[attr-defined]
        return body

    def start_clock(self) -> None:
        self._deadline = time.monotonic() + settings.ASSET_UPLOAD_READ_SECONDS
        if self._socket is not None and self._watchdog is None:
            self._watchdog = threading.Timer(settings.ASSET_UPLOAD_READ_SECONDS, self._cut_off)
            self._watchdog.daemon = True
            self._watchdog.start()

    def _cut_off(self) -> None:
        self._cut.set()
        if self._socket is not None:
            # Wakes a read blocked on a silent client (already closed: that read has ended).
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()

    def peek(self, size: int) -> bytes:
        """Up to `size` bytes from the start of the body, given back to whoever reads next."""
        self._peeking = True
        try:
            data = b""
            while len(data) < size:
                chunk = self.read(size - len(data))
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data and data.count(b"\r\n") >= 4:
                    break  # the first part's headers and value line are in
        finally:
            self._peeking = False
        self._pushed_back = data + self._pushed_back
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        if not (self.admitted or self._peeking):
            raise RuntimeError("an upload body was read before the upload was admitted")
        if self._pushed_back:
            if size is None or size < 0:
                data, self._pushed_back = self._pushed_back, b""
                return data + self._timed(self._stream.read, -1)
            data, self._pushed_back = self._pushed_back[:size], self._pushed_back[size:]
            return data
        return self._timed(self._stream.read, size)

    def readline(self, size: int | None = -1, /) -> bytes:
        if not (self.admitted or self._peeking):
            raise RuntimeError("an upload body was read before the upload was admitted")
        if self._pushed_back:
            line, newline, rest = self._pushed_back.partition(b"\n")
            self._pushed_back = rest
            return line + newline
        return self._timed(self._stream.readline, size)

    def _timed(self, read: Callable[[int], bytes], size: int | None) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0 or self._cut.is_set():
            raise UploadCutOff("the upload took longer than its deadline")
        previous = None
        if self._socket is not None:
            previous = self._socket.gettimeout()
            self._socket.settimeout(min(remaining, settings.ASSET_UPLOAD_IDLE_SECONDS))
        try:
            data = read(-1 if size is None else size)
        except (TimeoutError, ConnectionError) as error:
            raise UploadCutOff("the upload stopped arriving") from error
        finally:
            if self._socket is not None:
                # A socket gone meanwhile: the short read below says so.
                with contextlib.suppress(OSError):
                    self._socket.settimeout(previous)
        self.received += len(data)
        if self._cut.is_set() or (not data and size != 0 and self.received < self.declared):
            raise UploadCutOff("the upload ended before all of it arrived")
        if self.received >= self.declared:
            self.close()  # all in: the view's own work after this has no body deadline
        return data


def upload_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Outermost decorator of an upload view: guards the body of a POST until `admit` lets it be
    read. Exempt from the CSRF middleware, which would read the body first; `admit` checks."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        body = GuardedBody.install(request)
        try:
            return view(request, *args, **kwargs)
        except Exception:
            # Django's 403/404/400 pages look up the CSRF token the way the middleware does, by
            # parsing the body the view refused to read. Nothing was done: the check is over.
            request.csrf_processing_done = True  # type: ignore[attr-defined]
            raise
        finally:
            body.close()

    wrapper.upload_endpoint = True  # type: ignore[attr-defined]  # found by the security suite
    return wrapper


def body_is_guarded(request: HttpRequest) -> bool:
    """Whether the request's body may not be read yet (an upload not admitted)."""
    body = getattr(request, "upload_body", None)
    return body is not None and not body.admitted


def admit(request: HttpRequest) -> None:
    """Let the body be read, once the caller settled who is uploading. Raises `UploadRefused`
    (before reading more than a peek) when the declared length can't fit one file, or when the
    CSRF check fails."""
    body: GuardedBody = request.upload_body  # type: ignore[attr-defined]
    if "CONTENT_LENGTH" not in request.META or not request.META["CONTENT_LENGTH"]:
        raise UploadRefused(411, gettext("The upload did not say how large it is. Try again."))
    if body.declared > body_limit():
        raise UploadRefused(413, too_large_text())
    params = request.content_params or {}
    if request.content_type != "multipart/form-data" or "boundary" not in params:
        raise UploadRefused(400, gettext("Send the file from the upload form."))
    body.start_clock()
    try:
        token = request.META.get(settings.CSRF_HEADER_NAME) or _first_field_token(request, body)
    except UploadCutOff as error:
        raise UploadRefused(408, _cut_off_text()) from error
    _check_csrf(request, token)
    request.upload_handlers = [SizeLimitHandler(request), HashingUploadHandler(request)]
    body.admitted = True


def _first_field_token(request: HttpRequest, body: GuardedBody) -> str:
    """The CSRF token when it is the body's first part (as the upload form sends it), else ""."""
    boundary = (request.content_params or {})["boundary"].encode("ascii", "replace")
    head = body.peek(PEEK_BYTES)
    start = b"--" + boundary + b"\r\n"
    if not head.startswith(start):
        return ""
    headers, separator, rest = head[len(start) :].partition(b"\r\n\r\n")
    if not separator:
        return ""
    disposition = headers.split(b"\r\n")[0].lower().replace(b" ", b"")
    if disposition != b'content-disposition:form-data;name="%s"' % CSRF_FIELD.encode():
        return ""
    value, found, _ = rest.partition(b"\r\n--" + boundary)
    return value.decode("ascii", "replace") if found else ""


def _check_csrf(request: HttpRequest, token: str) -> None:
    """Django's own CSRF check (origin, cookie, token), on the token found without parsing."""
    request._post = QueryDict(mutable=True)  # type: ignore[attr-defined]
    if token:
        request._post[CSRF_FIELD] = token  # type: ignore[attr-defined]
    request._files = MultiValueDict()  # type: ignore[attr-defined]
    try:
        rejected = CsrfViewMiddleware(lambda _: HttpResponse()).process_view(
            request, lambda _: HttpResponse(), (), {}
        )
    finally:
        # The real form is parsed later, by the handlers below, once the check passed.
        del request._post  # type: ignore[attr-defined]
        del request._files  # type: ignore[attr-defined]
    if rejected is not None:
        text = gettext("This page has expired. Reload it and try again.")
        raise UploadRefused(403, text, response=rejected)


def received_file(request: HttpRequest) -> UploadedFile:
    """Read the admitted body: its one file, or `UploadRefused` saying what was wrong with it."""
    try:
        files = request.FILES.getlist("files")
    except UploadCutOff as error:
        for handler in request.upload_handlers:
            handler.upload_interrupted()
        raise UploadRefused(408, _cut_off_text()) from error
    except MultiPartParserError as error:
        for handler in request.upload_handlers:
            handler.upload_interrupted()
        raise UploadRefused(
            400, gettext("The upload could not be read. Send the file from the upload form.")
        ) from error
    guard = next(h for h in request.upload_handlers if isinstance(h, SizeLimitHandler))
    if guard.exceeded:
        raise UploadRefused(413, too_large_text())
    if guard.files > 1:
        _discard(request)
        raise UploadRefused(400, gettext("Send one file per upload; none of these was taken."))
    if not files:
        _discard(request)
        raise UploadRefused(400, gettext("Choose a file to upload."))
    return files[0]


def _discard(request: HttpRequest) -> None:
    """Close (and so delete) every spooled file of a refused body."""
    for _, uploads in request.FILES.lists():
        for upload in uploads:
            upload.close()


def person_upload_wait(session: Any) -> str | None:
    """None while the person's link may upload; else, in their words, when it may again. At most
    `PERSON_UPLOADS_PER_HOUR` files (refused ones included) go up through one link in an hour."""
    from assets.models import Asset

    now = timezone.now()
    limit = max(1, settings.PERSON_UPLOADS_PER_HOUR)
    recent = list(
        Asset.objects.filter(
            consent__session=session, uploaded_by_person=True, created_at__gt=now - HOUR
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return None
    minutes = max(1, math.ceil((recent[-1] + HOUR - now).total_seconds() / 60))
    return ngettext(
        "You have sent %(count)d files in the last hour, the most one link may send. You can "
        "send more in %(minutes)d minute.",
        "You have sent %(count)d files in the last hour, the most one link may send. You can "
        "send more in %(minutes)d minutes.",
        minutes,
    ) % {"count": limit, "minutes": minutes}


def _cut_off_text() -> str:
    return gettext(
        "The upload stopped arriving, or took too long, so it was not taken. Check the "
        "connection and try again."
    )


class SizeLimitHandler(FileUploadHandler):
    """Runs before the spooling handler: stops at a second file, and counts the bytes of the whole
    body's files against the limit (Content-Length was checked already; this holds even if a
    server passes on more than it declared)."""

    chunk_size = CHUNK_SIZE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = 0
        self.files = 0
        self.exceeded = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.files += 1
        if self.files > 1:
            raise StopUpload(connection_reset=True)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > largest_file_bytes():
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
            while self.hashing:
                self.hashing.popleft().result()
            path = Path(self.file.temporary_file_path())
            self.file.close()
            path.unlink(missing_ok=True)

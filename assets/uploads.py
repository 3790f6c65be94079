"""Upload bodies are read as a stream and cut off once a file passes the configured size."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect


class SizeLimitHandler(FileUploadHandler):
    """Runs before Django's own handlers: counts each file's bytes and stops the upload past the
    limit, so an oversized file is refused while it streams in, not after it was written out."""

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


def size_limited_upload(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Install the size guard before anything reads the body. The CSRF check reads it, so the
    view is exempted from the middleware's check and checked inside, after the guard."""
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.upload_handlers.insert(0, SizeLimitHandler(request))
        return protected(request, *args, **kwargs)

    return wrapper

"""`Idempotency-Key` on every POST: a repeat by the same key within 24 hours gets the first
answer back and changes nothing. Wraps the API's views, so the stored answer is the exact one sent.
A repeat with a different body is refused; a repeat while the first is still running gets 409."""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from integrations import keys
from integrations.models import IdempotentRequest

TTL = timedelta(hours=24)
HEADER = "Idempotency-Key"


def _problem(status: int, code: str, message: str) -> HttpResponse:
    body = {"error": {"code": code, "message": message, "field": HEADER}}
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.content_type == "multipart/form-data":
        # The body streams to disk in the view; its size and type stand for it here.
        digest.update(f"{request.META.get('CONTENT_LENGTH')} {request.content_type}".encode())
    else:
        digest.update(request.body)
    return digest.hexdigest()


def idempotent(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get(HEADER)
        if request.method != "POST" or header is None:
            return view(request, *args, **kwargs)
        if not header or len(header) > 255:
            return _problem(400, "invalid", f"{HEADER} must be 1 to 255 characters.")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        api_key = keys.find_key(token.strip()) if scheme.lower() == "bearer" else None
        if api_key is None:
            return view(request, *args, **kwargs)  # the API answers 401 itself
        fingerprint = _fingerprint(request)
        now = timezone.now()
        IdempotentRequest.objects.filter(
            api_key=api_key, key=header, created_at__lt=now - TTL
        ).delete()
        try:
            with transaction.atomic():
                stored = IdempotentRequest.objects.create(
                    api_key=api_key, key=header, fingerprint=fingerprint
                )
        except IntegrityError:
            first = IdempotentRequest.objects.filter(api_key=api_key, key=header).first()
            if first is None:
                return _problem(409, "request_in_progress", "Try again in a moment.")
            if first.fingerprint != fingerprint:
                return _problem(
                    422,
                    "idempotency_key_reused",
                    f"This {HEADER} was used for a different request in the last 24 hours.",
                )
            if first.status_code is None:
                return _problem(
                    409, "request_in_progress", "The first request with this key is still running."
                )
            replay = HttpResponse(
                bytes(first.body), status=first.status_code, content_type="application/json"
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = view(request, *args, **kwargs)
        if response.status_code >= 500 or response.status_code in (401, 429):
            # Nothing was done, or nothing certain: the same key may try again.
            IdempotentRequest.objects.filter(pk=stored.pk).delete()
        else:
            IdempotentRequest.objects.filter(pk=stored.pk).update(
                status_code=response.status_code, body=response.content
            )
        return response

    return wrapper


def expired_before(now: datetime | None = None) -> int:
    """Forget answers older than 24 hours; how many."""
    deleted, _ = IdempotentRequest.objects.filter(
        created_at__lt=(now or timezone.now()) - TTL
    ).delete()
    return deleted

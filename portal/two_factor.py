"""Staff sign-in beyond the password: a TOTP second factor (django-otp) and the lockout page
(django-axes).

Anyone with a confirmed authenticator app enters a code after the password (the app's secret is
stored encrypted: `portal.models.EncryptedTOTPDevice`); superusers must
enrol one before they reach any staff or admin page (`TOTP_REQUIRED_FOR_ADMINS`); other staff
may. The rule is enforced by `SecondFactorMiddleware` for every view that isn't public, so a new
staff page is covered without remembering a decorator.
"""

import logging
from base64 import b32encode
from datetime import timedelta
from math import ceil
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp import verify_token

from portal.models import EncryptedTOTPDevice as TOTPDevice
from portal.qr import qr_svg

logger = logging.getLogger(__name__)

VERIFY, ENROL = "two_factor_verify", "two_factor_setup"
# Pages anyone may reach half signed in: signing in and out, probes, and the person's own pages.
OPEN_URL_NAMES = frozenset({"login", "logout", "healthz", "readyz", "metrics"})
PUBLIC_NAMESPACES = frozenset({"person", "person_assets", "fetch"})
DEVICE_NAME = "Authenticator app"


def second_factor_step(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """What a signed-in, not yet verified user must do before staff pages: VERIFY (enter a code),
    ENROL (set up an app), or None (nothing)."""
    if TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists():
        return VERIFY
    if getattr(user, "is_superuser", False) and settings.TOTP_REQUIRED_FOR_ADMINS:
        return ENROL
    return None


class SecondFactorMiddleware:
    """Sends a signed-in user who still owes a second factor to the page that takes it.
    Runs after django-otp's middleware, which sets `user.is_verified()`."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or user.is_verified():  # type: ignore[attr-defined]
            return None
        match = request.resolver_match
        if match is None or match.namespace in PUBLIC_NAMESPACES:
            return None
        if not match.namespace and match.url_name in OPEN_URL_NAMES:
            return None
        if match.namespace == "admin" and match.url_name in ("login", "logout"):
            return None
        step = second_factor_step(user)
        if step is None or (not match.namespace and match.url_name == step):
            return None
        return redirect(f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}")


# --- Pages --------------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not code.isdigit():
            raise forms.ValidationError("The code is 6 digits.")
        return code


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _check(request: HttpRequest, device: TOTPDevice, form: CodeForm) -> bool:
    """Whether the form's code is right for the device; explains a refusal on the form."""
    allowed, detail = device.verify_is_allowed()
    if not allowed:
        # django-otp doubles the wait after each wrong code in a row: 1 s, 2 s, 4 s, …
        until = (detail or {}).get("locked_until")
        wait = max(1, ceil((until - timezone.now()).total_seconds())) if until else 1
        form.add_error(
            "code", f"Too many wrong codes in a row. Wait {wait} seconds, then try again."
        )
        return False
    # Locks the device row, so one code can't be used twice by two requests racing.
    if verify_token(request.user, device.persistent_id, form.cleaned_data["code"]) is None:
        logger.warning("second factor refused for user %s", request.user.pk)
        form.add_error("code", "That code is not right. Codes change every 30 seconds.")
        return False
    return True


def _signed_in_with(request: HttpRequest, device: TOTPDevice) -> HttpResponseRedirect:
    # A new session id once the second factor is in: a session id seen before it is worth less.
    request.session.cycle_key()
    otp_login(request, device)
    return HttpResponseRedirect(_next_url(request))


@never_cache
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The step after the password for anyone with an authenticator app."""
    device = TOTPDevice.objects.filter(user_id=request.user.pk, confirmed=True).first()
    if device is None or request.user.is_verified():  # type: ignore[union-attr]
        return HttpResponseRedirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _check(request, device, form):
        return _signed_in_with(request, device)
    return render(
        request, "registration/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


@never_cache
@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app (QR code, then one code to prove it works), or see and remove
    the one enrolled. The middleware has already asked for a code if one is enrolled."""
    user = request.user
    confirmed = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()
    if confirmed is not None:
        return _enrolled(request, confirmed)
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by(
        "-pk"
    ).first() or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _check(request, device, form):
        with transaction.atomic():
            TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
            TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).delete()
        device.confirmed = True
        logger.info("user %s enrolled an authenticator app", user.pk)
        messages.success(request, "Your authenticator app is set up. Sign-ins now ask for a code.")
        return _signed_in_with(request, device)
    context = {
        "form": form,
        "qr": qr_svg(device.config_url),
        "secret": b32encode(device.bin_key).decode(),
        "required": second_factor_step(user) == ENROL,
        "next": _next_url(request),
    }
    return render(request, "registration/two_factor_setup.html", context)


def _enrolled(request: HttpRequest, device: TOTPDevice) -> HttpResponse:
    """The enrolled app; removing it takes a current code (a borrowed session is not enough)."""
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _check(request, device, form):
        device.delete()
        logger.info("user %s removed their authenticator app", request.user.pk)
        messages.success(request, "Your authenticator app was removed.")
        return redirect(ENROL)
    context = {
        "form": form,
        "device": device,
        "required": getattr(request.user, "is_superuser", False)
        and settings.TOTP_REQUIRED_FOR_ADMINS,
    }
    return render(request, "registration/two_factor_enrolled.html", context)


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """What django-axes answers a sign-in attempt while its username and address are locked out:
    the sign-in page, saying why and for how long, with 429 Too Many Requests."""
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = int(cooloff.total_seconds() // 60) if isinstance(cooloff, timedelta) else 0
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)

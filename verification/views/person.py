"""The person's pages, reached by their link on a phone. No account; the link is the key.

A GET never changes the journey (mail scanners open links too); only POSTs consent or start.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from assets import person_words, uploads
from assets.models import Asset
from ledger.services import Actor
from portal import throttle
from portal.clients import client_ip
from portal.qr import qr_svg
from upstream.errors import UpstreamError
from verification import limits, liveness, services, withdrawal
from verification.forms import ConsentForm
from verification.models import Consent, Invitation, Language, LivenessAttempt, VerificationSession
from verification.receipts import held

# The verification sessions this browser opened through a valid link, in a signed cookie: lets the
# callback page offer "try again" without keeping the link token, and without writing a session
# row for every person (or mail scanner) who merely opens a link.
OPENED_COOKIE = "sitter_opened"
OPENED_COOKIE_SALT = "verification.person.opened"
OPENED_REMEMBERED = 20
# The link this browser opened last, sent only to the callback pages (its path), so that the
# success page can lead back to the person's own page without the upstream carrying the token.
LINK_COOKIE = "sitter_link"
LINK_COOKIE_SALT = "verification.person.link"
# The language a person chose on any of their pages, for the rest of the visit (a browser session).
LANGUAGE_COOKIE = "sitter_lang"
MOBILE_HINTS = ("Mobi", "Android", "iPhone", "iPad")


def person_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Person pages are private, uncached, and never send their address (it holds the link token)
    to another site. Not `no-referrer`: with it, browsers send `Origin: null` on the consent POST,
    which the CSRF check rightly refuses; `same-origin` keeps the token from every other origin."""

    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
            # Render lazily-rendered responses while the person's language is still active.
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        finally:
            # The language chosen for this person must not leak into the thread's next request.
            translation.deactivate()
        chosen = _asked_language(request)
        if chosen and request.COOKIES.get(LANGUAGE_COOKIE) != chosen:
            response.set_cookie(
                LANGUAGE_COOKIE,
                chosen,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        response["Referrer-Policy"] = "same-origin"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


def render_person(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """Render a person page with every variable its layout reads. A variable missing from a
    template is logged by Django together with the whole context (the callback's query holds the
    upstream token), so none may be missing."""
    full: dict[str, Any] = {
        "studio": settings.STUDIO_NAME,
        "studio_logo": settings.STUDIO_LOGO_URL,
        "step": "",
        "languages": Language.choices,
        "token": "",
        "error": "",
        "problem": "",
        **(context or {}),
    }
    return render(request, template, full, status=status)


def _asked_language(request: HttpRequest) -> str:
    """The language the person picked on this request (a language link or a form's field)."""
    # An upload's body is read only once its sender was checked (assets.uploads).
    posted = "" if uploads.body_is_guarded(request) else request.POST.get("lang", "")
    asked = request.GET.get("lang") or posted
    return asked if asked in Language.values else ""


def _activate_language(request: HttpRequest, preferred: str) -> str:
    """The language asked for now, else the one chosen earlier in this visit, else the person's
    own, else the browser's."""
    chosen = _asked_language(request) or request.COOKIES.get(LANGUAGE_COOKIE, "") or preferred
    if chosen not in Language.values:
        chosen = translation.get_language_from_request(request)
    translation.activate(chosen)
    return chosen


def answers_get_with(
    page: str, key: str = "token"
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """For a view that only acts on POST: any other request (a reload of its answer, a language
    link on it, a bookmark) is sent to the page its form lives on, never answered with a 405.
    A key that opens nothing gets its answer here, as the page itself would give it."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                return view(request, *args, **kwargs)
            if key == "token":
                resolved = _resolve(request, kwargs[key])
                if isinstance(resolved, HttpResponse):
                    return resolved
            else:
                get_object_or_404(LivenessAttempt, ref=kwargs[key])
            target = reverse(page, args=[kwargs[key]])
            asked = _asked_language(request)
            return redirect(f"{target}?lang={asked}" if asked else target)

        return wrapper

    return decorate


def _too_many_misses(request: HttpRequest) -> bool:
    key = f"link-miss:{client_ip(request)}"
    return throttle.hits(key) >= settings.LINK_FAILURES_ALLOWED


def _count_miss(request: HttpRequest) -> None:
    key = f"link-miss:{client_ip(request)}"
    throttle.count(key, window=int(settings.LINK_FAILURE_WINDOW.total_seconds()))


def _resolve(request: HttpRequest, token: str) -> Invitation | HttpResponse:
    """The invitation behind the link, or the friendly page that explains why it doesn't work."""
    if _too_many_misses(request):
        _activate_language(request, "")
        return render_person(
            request, "person/link_problem.html", {"problem": "throttled"}, status=429
        )
    lookup = services.look_up_link(token)
    if lookup.invitation is None or lookup.problem:
        if lookup.problem == "unknown":
            _count_miss(request)
        language = lookup.invitation.session.person.language if lookup.invitation else ""
        _activate_language(request, language)
        status = 404 if lookup.problem == "unknown" else 410
        # An expired link may ask for a fresh one; the form needs the token it came with.
        context = {"problem": lookup.problem, "token": token if lookup.problem == "expired" else ""}
        return render_person(request, "person/link_problem.html", context, status=status)
    return lookup.invitation


def _opened_here(request: HttpRequest) -> list[int]:
    raw = request.get_signed_cookie(
        OPENED_COOKIE, default="", salt=OPENED_COOKIE_SALT, max_age=settings.SESSION_COOKIE_AGE
    )
    return [int(pk) for pk in (raw or "").split(",") if pk.isdigit()]


def _remember_browser(
    request: HttpRequest, response: HttpResponse, session: VerificationSession
) -> HttpResponse:
    opened = _opened_here(request)
    if session.pk not in opened:
        remembered = [*opened, session.pk][-OPENED_REMEMBERED:]
        response.set_signed_cookie(
            OPENED_COOKIE,
            ",".join(map(str, remembered)),
            salt=OPENED_COOKIE_SALT,
            max_age=settings.SESSION_COOKIE_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return response


def _link_page(
    request: HttpRequest,
    invitation: Invitation,
    token: str,
    *,
    form: ConsentForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    session = invitation.session
    user_agent = request.headers.get("user-agent", "")
    on_desktop = not any(hint in user_agent for hint in MOBILE_HINTS)
    context = {
        "session": session,
        "person": session.person,
        "project": session.project,
        "text": session.consent_text,
        "token": token,
        "form": form or ConsentForm(expected_name=session.person.full_name),
        "error": error,
        "studio": settings.STUDIO_NAME,
        "languages": Language.choices,
        "on_desktop": on_desktop,
        # Drawn only where shown: it is most of a phone's page time otherwise.
        "qr": qr_svg(services.person_link_url(token)) if on_desktop else "",
        "media_kinds": [label for value, label in _kind_labels() if value in session.media_kinds],
    }
    # Consent moves the session on: a session still awaiting it has none (and no files) to show.
    consent = (
        None
        if session.status in VerificationSession.AWAITING_CONSENT
        else session.consents.order_by("-signed_at").first()
    )
    held_here = held(Asset.objects.filter(group__session=session)).order_by("-created_at")
    context |= {
        "consent": consent,
        "assets": [(a, person_words.status(a)) for a in held_here[:100]] if consent else [],
        "step": _step(session),
        "signed_in_staff": _signed_in(request),
        "code_sent": getattr(session, "consent_code", None) if session.awaits_code else None,
    }
    return render_person(request, "person/link.html", context, status=status)


def _step(session: VerificationSession) -> str:
    if session.status in VerificationSession.AWAITING_CONSENT:
        return "consent"
    return "done" if session.status == VerificationSession.Status.VERIFIED else "verify"


def _kind_labels() -> list[tuple[str, str]]:
    from django.utils.translation import gettext

    return [
        ("image", gettext("photos of your face")),
        ("video", gettext("videos of you")),
        ("audio", gettext("recordings of your voice")),
    ]


@require_GET
@person_page
def link(request: HttpRequest, token: str) -> HttpResponse:
    resolved = _resolve(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    _activate_language(request, resolved.session.person.language)
    # Opening moves the session (and refreshes it) only the first time; staff looking at the link
    # in their own browser is not the person opening it.
    if not _signed_in(request):
        services.note_link_opened(invitation=resolved, request=request)
    response = _remember_browser(request, _link_page(request, resolved, token), resolved.session)
    response.set_signed_cookie(
        LINK_COOKIE,
        token,
        salt=LINK_COOKIE_SALT,
        max_age=settings.SESSION_COOKIE_AGE,
        path=reverse("person:callback", args=["x"]).rsplit("/", 2)[0] + "/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _page_link(request: HttpRequest, session: VerificationSession) -> str:
    """The person's own page, when this browser opened a link of `session` that still works."""
    token = request.get_signed_cookie(
        LINK_COOKIE, default="", salt=LINK_COOKIE_SALT, max_age=settings.SESSION_COOKIE_AGE
    )
    if not token:
        return ""
    lookup = services.look_up_link(token)
    if lookup.problem or lookup.invitation is None or lookup.invitation.session_id != session.pk:
        return ""
    return reverse("person:link", args=[token])


def _signed_in(request: HttpRequest) -> bool:
    """A browser signed in to the studio's accounts: staff's, never the person's own (persons
    have no accounts). Consent and withdrawal through a link are refused there."""
    return bool(request.user.is_authenticated)


def _for_the_person(request: HttpRequest, token: str) -> Invitation | HttpResponse:
    """The link's invitation, in its person's language, for a step only the person may take: a
    browser signed in as staff is answered with the link page saying why."""
    resolved = _resolve(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    _activate_language(request, resolved.session.person.language)
    if _signed_in(request):
        return _link_page(request, resolved, token, error=_staff_browser_refusal(), status=403)
    return resolved


@person_page
@answers_get_with("person:link")
def consent(request: HttpRequest, token: str) -> HttpResponse:
    resolved = _for_the_person(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    session = resolved.session
    form = ConsentForm(request.POST, expected_name=session.person.full_name)
    if not form.is_valid():
        return _link_page(request, resolved, token, form=form, status=400)
    try:
        services.give_consent(
            session=session,
            signature_name=form.cleaned_data["signature_name"],
            request=request,
            representation=form.cleaned_data["representation"],
            guardian_name=form.cleaned_data["guardian_name"],
            guardian_relationship=form.cleaned_data["guardian_relationship"],
            invitation=resolved,
        )
    except services.JourneyError as error:
        return _link_page(request, resolved, token, error=str(error), status=409)
    session.refresh_from_db(fields=["status"])  # keeps the related rows already loaded
    if session.awaits_code:
        # Their verified group serves again once they enter the code sent to them: no liveness.
        try:
            services.send_consent_code(session=session, request=request)
        except services.JourneyError as problem:
            page = _link_page(request, resolved, token, error=str(problem))
            return _remember_browser(request, page, session)
        return _remember_browser(request, redirect("person:link", token), session)
    return _remember_browser(request, _start(request, resolved, token), session)


def _staff_browser_refusal() -> str:
    from django.utils.translation import gettext

    return gettext(
        "This browser is signed in to the studio's staff pages, so consent can't be given "
        "here. The person gives it on their own phone or computer."
    )


@person_page
@answers_get_with("person:link")
def consent_code(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time code that binds a consent on an already verified group to the person."""
    resolved = _for_the_person(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    if resolved.session.status == VerificationSession.Status.VERIFIED:
        return redirect("person:link", token)  # sent twice, or reloaded: it worked already
    try:
        services.check_consent_code(
            session=resolved.session, code=request.POST.get("code", "")[:20], request=request
        )
    except services.JourneyError as error:
        return _link_page(request, resolved, token, error=str(error), status=400)
    return redirect("person:link", token)


@person_page
@answers_get_with("person:link")
def consent_code_resend(request: HttpRequest, token: str) -> HttpResponse:
    resolved = _for_the_person(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    try:
        services.send_consent_code(session=resolved.session, request=request)
    except services.JourneyError as error:
        return _link_page(request, resolved, token, error=str(error), status=429)
    return redirect("person:link", token)


@person_page
@answers_get_with("person:link")
def start(request: HttpRequest, token: str) -> HttpResponse:
    # The liveness check is the person's face: not in a staff browser either.
    resolved = _for_the_person(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    return _start(request, resolved, token)


def _start(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    session = VerificationSession.objects.select_related("person", "account").get(
        pk=invitation.session_id
    )
    invitation.session = session
    try:
        with limits.liveness_start(session):
            h5_link = liveness.start_liveness(
                session=session, request=request, language=translation.get_language()
            )
    except services.JourneyError as error:
        status = getattr(error, "status", 409)
        return _link_page(request, invitation, token, error=str(error), status=status)
    # A plain redirect to the upstream's own page; it sends the phone back to our callback.
    return HttpResponseRedirect(h5_link)


@require_GET
@person_page
def callback(request: HttpRequest, ref: str) -> HttpResponse:
    """Where the upstream's page sends the phone. Its query is a hint; the upstream decides."""
    attempt = get_object_or_404(
        LivenessAttempt.objects.select_related("session__person", "session__account"), ref=ref
    )
    session = attempt.session
    _activate_language(request, session.person.language)
    reported = request.GET.get("resultCode", "")[:32]
    token_hint = request.GET.get("bytedToken", "")
    if token_hint and Invitation.hash_token(token_hint) != attempt.byted_token_hash:
        reported = ""  # a callback for some other session: ignore its claims
    problem = ""
    # Reloading the page asks the upstream about an attempt at most once per window (and a link
    # has few attempts an hour): the sweep keeps asking on its own, so a page that doesn't ask
    # loses nothing.
    window = settings.LIVENESS_RESULT_CHECK_SECONDS
    if throttle.first_in_window(f"result-check:{attempt.pk}", window=window):
        try:
            attempt = liveness.confirm_attempt(
                attempt=attempt,
                reported_code=reported,
                details=liveness.callback_details(request.GET) if reported else {},
                interactive=True,
            )
        except UpstreamError:
            # The sweep keeps asking; the person is told we are still confirming.
            problem = "unavailable"
    session.refresh_from_db()
    context = {
        "session": session,
        "attempt": attempt,
        "problem": problem,
        "studio": settings.STUDIO_NAME,
        "can_retry": session.pk in _opened_here(request) and session.can_start_liveness,
        "page_link": _page_link(request, session),
        "step": "done" if session.status == VerificationSession.Status.VERIFIED else "verify",
    }
    return render_person(request, "person/callback.html", context)


@person_page
@answers_get_with("person:callback", key="ref")
def retry(request: HttpRequest, ref: str) -> HttpResponse:
    """Start liveness again from the callback page, for the browser that opened the link."""
    attempt = get_object_or_404(LivenessAttempt.objects.select_related("session__person"), ref=ref)
    session = attempt.session
    _activate_language(request, session.person.language)
    if session.pk not in _opened_here(request):
        return render_person(request, "person/link_problem.html", {"problem": "reopen"}, status=403)
    if _signed_in(request):
        return render_person(
            request, "person/link_problem.html", {"problem": "staff_browser"}, status=403
        )
    try:
        with limits.liveness_start(session):
            h5_link = liveness.start_liveness(
                session=session, request=request, language=translation.get_language()
            )
    except services.JourneyError as error:
        context = {
            "session": session,
            "attempt": attempt,
            "problem": "",
            "error": str(error),
            "studio": settings.STUDIO_NAME,
            "can_retry": False,
        }
        status = getattr(error, "status", 409)
        return render_person(request, "person/callback.html", context, status=status)
    return HttpResponseRedirect(h5_link)


def _session_consent(invitation: Invitation) -> Consent | None:
    return (
        invitation.session.consents.select_related("project", "text").order_by("-signed_at").first()
    )


@person_page
def withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """Withdrawing is one confirmed step: a page that says what will happen, then one button."""
    resolved = _resolve(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    _activate_language(request, resolved.session.person.language)
    consent = _session_consent(resolved)
    if consent is None:
        return render_person(
            request, "person/link_problem.html", {"problem": "unknown"}, status=404
        )
    context = {"consent": consent, "token": token, "studio": settings.STUDIO_NAME}
    if request.method == "POST" and _signed_in(request):
        # Staff withdraw on a person's behalf from the staff pages, which ask why and record it.
        return render_person(
            request, "person/link_problem.html", {"problem": "staff_browser"}, status=403
        )
    if request.method == "POST":
        withdrawal.withdraw_consent(
            consent=consent, actor=Actor.person(consent.person_id), request=request
        )
        consent.refresh_from_db()
        return render_person(request, "person/withdrawn.html", context)
    if consent.withdrawn_at is not None:
        return render_person(request, "person/withdrawn.html", context)
    return render_person(request, "person/withdraw.html", context)


@require_GET
@person_page
def receipt(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    from verification import receipts

    resolved = _resolve(request, token)
    if isinstance(resolved, HttpResponse):
        return resolved
    consent = _session_consent(resolved)
    if consent is None:
        return render_person(
            request, "person/link_problem.html", {"problem": "unknown"}, status=404
        )
    _activate_language(request, consent.person.language)
    built = receipts.build_receipt(consent)
    if fmt == "json":
        response = HttpResponse(receipts.receipt_json(built), content_type="application/json")
    else:
        response = HttpResponse(receipts.render_pdf(built), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{receipts.filename(built, fmt)}"'
    return response


@person_page
@answers_get_with("person:link")
def renew(request: HttpRequest, token: str) -> HttpResponse:
    """An expired link can ask for a fresh one, sent to the address the studio has on file."""
    lookup = services.look_up_link(token)
    if lookup.invitation is None or lookup.problem != "expired":
        resolved = _resolve(request, token)
        return resolved if isinstance(resolved, HttpResponse) else redirect("person:link", token)
    session = lookup.invitation.session
    _activate_language(request, session.person.language)
    key = f"renew:{session.pk}"
    if not throttle.first_in_window(key, window=600):
        return render_person(
            request, "person/link_problem.html", {"problem": "renew_wait"}, status=429
        )
    try:
        services.send_new_link(session=session, user=None)
    except services.JourneyError:
        return render_person(request, "person/link_problem.html", {"problem": "closed"}, status=410)
    return render_person(request, "person/link_problem.html", {"problem": "renewed"})


@require_GET
def studio_style(request: HttpRequest) -> HttpResponse:
    """The studio's accent colour for the person's pages, as a stylesheet: the pages' CSP allows
    no inline style. The setting is checked to be #rrggbb when settings load."""
    css = f":root {{ --accent: {settings.STUDIO_ACCENT_COLOR}; }}\n"
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response

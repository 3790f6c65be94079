"""Staff pages: persons, starting a verification, following a session live."""

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db.models import Max, OuterRef, Q, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from assets.models import Asset
from ledger.models import AuditEvent
from ledger.services import Actor
from portal import crypto
from portal.access import StaffRequest, staff_permission_required
from portal.confirm import ReasonForm, confirm_page
from portal.qr import qr_svg
from verification import services, withdrawal
from verification.forms import PersonForm, StartSessionForm
from verification.models import AuthorizingPerson, Consent, Invitation, VerificationSession
from verification.timeline import timeline as in_words

# htmx stops polling when it receives this status.
STOP_POLLING = 286


@staff_permission_required("verification.view_authorizingperson")
def person_list(request: StaffRequest) -> HttpResponse:
    latest = VerificationSession.objects.filter(person=OuterRef("pk")).order_by("-created_at")
    persons = AuthorizingPerson.objects.annotate(
        latest_status=Subquery(latest.values("status")[:1])
    )
    # A NUL can't be stored or searched for (PostgreSQL refuses it): it is dropped.
    query = request.GET.get("q", "").replace("\x00", "").strip()
    if query:
        persons = persons.filter(
            Q(full_name__icontains=query) | Q(email__icontains=query) | Q(phone__icontains=query)
        )
    status = request.GET.get("status", "")
    if status == "none":
        persons = persons.filter(latest_status__isnull=True)
    elif status in VerificationSession.Status.values:
        persons = persons.filter(latest_status=status)
    context = {
        "persons": persons[:200],
        "query": query,
        "status": status,
        "statuses": VerificationSession.Status.choices,
    }
    template = "verification/persons.html#results" if request.htmx else "verification/persons.html"
    return render(request, template, context)


@staff_permission_required("verification.add_authorizingperson")
def person_create(request: StaffRequest) -> HttpResponse:
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        person = services.create_person(form=form, user=request.user)
        messages.success(request, f"{person.full_name} was added.")
        return redirect("staff:person", person.pk)
    return render(request, "verification/person_form.html", {"form": form})


@staff_permission_required("verification.change_authorizingperson")
def person_edit(request: StaffRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(AuthorizingPerson, pk=pk)
    form = PersonForm(request.POST or None, instance=person)
    if request.method == "POST" and form.is_valid():
        services.update_person(form=form, user=request.user)
        messages.success(request, "Saved.")
        return redirect("staff:person", person.pk)
    return render(request, "verification/person_form.html", {"form": form, "person": person})


@staff_permission_required("verification.view_authorizingperson")
def person_detail(request: StaffRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(AuthorizingPerson, pk=pk)
    context = {
        "person": person,
        "sessions": person.sessions.select_related("project", "account"),
        "consents": Consent.objects.filter(person=person).select_related("project", "text"),
        "groups": person.groups.select_related("account"),
        "assets": Asset.objects.filter(group__person=person).select_related("group")[:200],
    }
    return render(request, "verification/person_detail.html", context)


@staff_permission_required("verification.add_verificationsession", "verification.send_link")
def session_start(request: StaffRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(AuthorizingPerson, pk=pk)
    initial = {"channel": "email" if person.email else "sms" if person.phone else "in_person"}
    form = StartSessionForm(request.POST or None, person=person, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = services.start_session(
                person=person,
                account_id=data["account"].pk,
                project=data["project"],
                consent_text=data["consent_text"],
                media_kinds=data["media_kinds"],
                channel=data["channel"],
                user=request.user,
                term_ends_on=data["term_ends_on"],
            )
        except services.OpenSessionExists as error:
            form.add_error("project", form.open_session_error(error.session))
            return render(
                request, "verification/session_start.html", {"form": form, "person": person}
            )
        if session.channel == VerificationSession.Channel.IN_PERSON:
            return _show_link(request, session)
        messages.success(request, f"The invitation to {person.full_name} is on its way.")
        return redirect("staff:session", session.pk)
    return render(request, "verification/session_start.html", {"form": form, "person": person})


def _session_context(session: VerificationSession) -> dict[str, object]:
    consents = list(session.consents.values_list("pk", flat=True))
    timeline = AuditEvent.objects.filter(
        Q(subject_type="verification.verificationsession", subject_id=str(session.pk))
        | Q(subject_type="verification.consent", subject_id__in=[str(pk) for pk in consents])
    ).order_by("seq")
    return {
        "session": session,
        "invitations": session.invitations.all()[:20],
        "attempts": session.attempts.all()[:20],
        "timeline": in_words(timeline, person_name=session.person.full_name),
        # Development only: where the invitations "sent" can be opened.
        "outbox_url": reverse("staff:outbox") if settings.DEBUG else "",
    }


def _get_session(pk: int) -> VerificationSession:
    return get_object_or_404(
        VerificationSession.objects.select_related("person", "project", "account", "consent_text"),
        pk=pk,
    )


@staff_permission_required("verification.view_verificationsession")
def session_detail(request: StaffRequest, pk: int) -> HttpResponse:
    return render(request, "verification/session.html", _session_context(_get_session(pk)))


@staff_permission_required("verification.view_verificationsession")
def session_status(request: StaffRequest, pk: int) -> HttpResponse:
    """The live part of the session page; htmx polls it (every half second) until the session
    is over. Each poll is a conditional request: while nothing happened (the session's status and
    its last ledger event are unchanged) it is answered 304 without rendering anything."""
    session = _get_session(pk)
    tag = _status_etag(session)
    if not session.is_terminal and tag in request.headers.get("if-none-match", ""):
        response = HttpResponse(status=304)
    else:
        response = render(request, "verification/session.html#live", _session_context(session))
        if session.is_terminal and request.htmx:
            response.status_code = STOP_POLLING
    response["ETag"] = tag
    # The browser keeps the fragment and revalidates each poll, so an unchanged one is a 304.
    response["Cache-Control"] = "private, no-cache"
    return response


def _status_etag(session: VerificationSession) -> str:
    """Changes whenever the live fragment could: every step is a ledger event of the session or
    of its consent, and staff see it in the timeline."""
    consents = [str(pk) for pk in session.consents.values_list("pk", flat=True)]
    last = AuditEvent.objects.filter(
        Q(subject_type="verification.verificationsession", subject_id=str(session.pk))
        | Q(subject_type="verification.consent", subject_id__in=consents)
    ).aggregate(last=Max("seq"))["last"]
    return f'W/"{session.status}-{last or 0}"'


@staff_permission_required("verification.send_link")
@require_POST
def session_resend(request: StaffRequest, pk: int) -> HttpResponse:
    session = _get_session(pk)
    if session.channel == VerificationSession.Channel.IN_PERSON:
        return _show_link(request, session)
    try:
        services.send_new_link(session=session, user=request.user)
    except services.JourneyError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "A new link is on its way; the old one no longer works.")
    return redirect("staff:session", session.pk)


@staff_permission_required("verification.send_link")
@require_POST
def session_show_link(request: StaffRequest, pk: int) -> HttpResponse:
    session = _get_session(pk)
    if session.channel != VerificationSession.Channel.IN_PERSON and "replace" not in request.POST:
        # A new link stops the one already sent: staff are told before, not after.
        return redirect("staff:session_link_choice", session.pk)
    return _show_link(request, session)


@staff_permission_required("verification.send_link")
@require_GET
def session_link_choice(request: StaffRequest, pk: int) -> HttpResponse:
    """Before replacing a link sent by email or SMS with one to show: what that costs, and the
    way that costs nothing (the person opens the message they have)."""
    session = _get_session(pk)
    sent = (
        session.invitations.usable()
        .filter(status=Invitation.Status.SENT)
        .order_by("-created_at")
        .first()
    )
    context = {"session": session, "sent": sent}
    return render(request, "verification/link_choice.html", context)


def _show_link(request: StaffRequest, session: VerificationSession) -> HttpResponse:
    """Make a new link, then show it on a page of its own (post/redirect/get): reloading that
    page shows the same link again instead of making another."""
    try:
        link = services.show_link(
            session=session, user=request.user, device=request.headers.get("user-agent", "")
        )
    except services.JourneyError as error:
        messages.error(request, str(error))
        return redirect("staff:session", session.pk)
    _remember_shown_link(request, session, link)
    return redirect("staff:session_link", session.pk)


# The link just made stays on show in the browser that made it, for this long, while it works.
SHOWN_LINK_SECONDS = 30 * 60


def _shown_link_key(session: VerificationSession) -> str:
    return f"shown-link:{session.pk}"


def _remember_shown_link(request: StaffRequest, session: VerificationSession, link: str) -> None:
    # Encrypted: the staff session is stored server-side, and the link opens the person's page.
    request.session[_shown_link_key(session)] = signing.dumps(crypto.encrypt(link))


def _shown_link(request: StaffRequest, session: VerificationSession) -> str:
    """The link this browser was shown for the session, while it still opens the person's page."""
    stored = request.session.get(_shown_link_key(session), "")
    try:
        link = crypto.decrypt(signing.loads(stored, max_age=SHOWN_LINK_SECONDS)) if stored else ""
    except (signing.BadSignature, ValueError):
        link = ""
    token = link.rstrip("/").rsplit("/", 1)[-1]
    if (
        link
        and Invitation.objects.usable()
        .filter(session=session, token_hash=Invitation.hash_token(token))
        .exists()
    ):
        return link
    request.session.pop(_shown_link_key(session), None)
    return ""


@staff_permission_required("verification.send_link")
@require_GET
def session_link(request: StaffRequest, pk: int) -> HttpResponse:
    """The link made for showing, as a QR code and to copy."""
    session = _get_session(pk)
    link = _shown_link(request, session)
    if not link:
        messages.info(
            request,
            "That link is no longer on show: a link is shown for half an hour after it is made, "
            "in the browser that made it, while it works. Make a new one here if you need it.",
        )
        return redirect("staff:session", session.pk)
    response = render(
        request,
        "verification/show_link.html",
        {"session": session, "link": link, "qr": qr_svg(link)},
    )
    # The page carries a live link: keep it out of caches and history restores.
    response["Cache-Control"] = "no-store"
    return response


@staff_permission_required("verification.cancel_session")
def session_cancel(request: StaffRequest, pk: int) -> HttpResponse:
    """Asks first (what stops, and why), then cancels on the confirming POST."""
    session = _get_session(pk)
    back = reverse("staff:session", args=[session.pk])
    if session.is_terminal:
        messages.info(request, f"This session is already {session.get_status_display().lower()}.")
        return redirect(back)
    form = ReasonForm(request.POST if request.POST.get("confirmed") == "yes" else None)
    if not form.is_valid():
        return confirm_page(
            request,
            form=form,
            title=f"Cancel the verification of {session.person.full_name}?",
            consequences=[
                "Every link of this session stops working at once.",
                "A liveness check under way is no longer followed.",
                "Consents already given stay as they are (withdraw them separately).",
            ],
            button="Cancel the session",
            back=back,
            status=400 if form.is_bound else 200,
        )
    try:
        services.cancel_session(
            session=session, actor=Actor.staff(request.user), reason=form.cleaned_data["reason"]
        )
    except services.JourneyError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The session is cancelled and its links no longer work.")
    return redirect(back)


@staff_permission_required("verification.withdraw_consent")
def consent_withdraw(request: StaffRequest, pk: int) -> HttpResponse:
    """Withdraw on the person's behalf (they asked by phone, letter or in person): a page says
    what will happen and asks why; the confirming POST withdraws."""
    consent = get_object_or_404(Consent.objects.select_related("project", "person"), pk=pk)
    back = reverse("staff:person", args=[consent.person_id])
    if consent.withdrawn_at is not None:
        messages.info(request, "This consent was already withdrawn.")
        return redirect(back)
    form = ReasonForm(request.POST if request.POST.get("confirmed") == "yes" else None)
    if not form.is_valid():
        return confirm_page(
            request,
            form=form,
            title=f"Withdraw {consent.person.full_name}'s consent to {consent.project.name}?",
            consequences=[
                "Nothing more is uploaded or sent under this consent, from now on.",
                "Every file it covers is deleted upstream and here; this can't be undone.",
                f"{consent.person.full_name} is told by email when the deletion is done.",
            ],
            button="Withdraw on their behalf",
            back=back,
            status=400 if form.is_bound else 200,
        )
    if withdrawal.withdraw_consent(
        consent=consent,
        actor=Actor.staff(request.user),
        reason=form.cleaned_data["reason"],
        request=request,
    ):
        messages.success(
            request, "Consent withdrawn. Their files are being deleted upstream and here."
        )
    else:
        messages.info(request, "This consent was already withdrawn.")
    return redirect(back)

"""The confirmation step of a destructive staff action: a page saying what will happen, and a
required reason that goes to the ledger with the action. Plain HTML forms: works without JS."""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ledger.models import ActorKind
from ledger.services import Actor


def require_reason(actor: Actor, reason: str) -> None:
    """Staff acting on someone else's evidence (deleting, withdrawing on their behalf, cancelling)
    say why; the ledger keeps the reason with who did it. Callers without one are a bug."""
    if actor.kind == ActorKind.STAFF and not reason.strip():
        raise ValueError("staff must give a reason for this action")


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Why",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the ledger with your name, e.g. “the person asked by phone”.",
        error_messages={"required": "Say why: the reason is kept with the action as evidence."},
    )

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].replace("\x00", "").split())
        if not reason:
            raise forms.ValidationError("Say why: the reason is kept with the action as evidence.")
        return reason


def confirm_page(
    request: HttpRequest,
    *,
    form: ReasonForm,
    title: str,
    consequences: list[str],
    button: str,
    back: str,
    status: int = 200,
) -> HttpResponse:
    """The page that asks; its form posts back to the same URL with the reason."""
    context = {
        "form": form,
        "title": title,
        "consequences": consequences,
        "button": button,
        "back": back,
    }
    response = render(request, "portal/confirm.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response

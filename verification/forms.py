import re
import unicodedata
from datetime import date

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from upstream.models import UpstreamAccount
from verification.models import (
    AuthorizingPerson,
    ConsentText,
    MediaKind,
    Project,
    VerificationSession,
)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class PersonForm(forms.ModelForm):
    # Typed with spaces and dashes, stored in E.164: the raw input may be longer than the column.
    phone = forms.CharField(
        max_length=32,
        required=False,
        label="Mobile phone",
        help_text="International form, e.g. +14155550123.",
    )

    class Meta:
        model = AuthorizingPerson
        fields = ["full_name", "email", "phone", "language"]
        labels = {"full_name": "Full name"}

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise forms.ValidationError("Enter the person's full name.")
        return name

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"]
        phone = re.sub(r"[\s().-]", "", raw)
        if phone and not E164.match(phone):
            raise forms.ValidationError(
                "Enter the number in international form: a plus sign, the country code, then the "
                "number, e.g. +14155550123."
            )
        return phone


class StartSessionForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=UpstreamAccount.objects.filter(is_active=True), label="Upstream account"
    )
    project = forms.ModelChoiceField(queryset=Project.objects.filter(is_active=True))
    consent_text = forms.ModelChoiceField(queryset=ConsentText.objects.all(), label="Consent text")
    media_kinds = forms.MultipleChoiceField(
        choices=MediaKind.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[kind.value for kind in MediaKind],
        label="Consent is asked for",
    )
    term_ends_on = forms.DateField(
        required=False,
        label="Consent ends on (optional)",
        help_text="Leave empty for consent until withdrawn.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    channel = forms.ChoiceField(
        choices=VerificationSession.Channel.choices, widget=forms.RadioSelect, label="Reach them by"
    )

    def clean_term_ends_on(self) -> date | None:
        term = self.cleaned_data.get("term_ends_on")
        if term is not None and term <= timezone.now().date():
            raise forms.ValidationError("The end of the consent must be a day after today.")
        return term

    def __init__(self, *args: object, person: AuthorizingPerson, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.person = person
        # Where there is only one sensible choice, it is made already.
        for name in ("account", "project"):
            field = self.fields[name]
            choices = list(field.queryset[:2])  # type: ignore[attr-defined]
            if len(choices) == 1:
                field.initial = choices[0].pk
        texts = ConsentText.objects.filter(language=person.language) or ConsentText.objects.all()
        if newest := texts.order_by("-created_at").first():
            self.fields["consent_text"].initial = newest.pk
        self.fields["consent_text"].label_from_instance = lambda text: (  # type: ignore[attr-defined]
            f"{text.title} — version {text.version} ({text.get_language_display()})"
        )

    def open_session_error(self, session: VerificationSession) -> SafeString:
        return format_html(
            "{} already has an open verification for this project, started {} UTC: "
            '<a href="{}">follow that one</a>, or cancel it there before starting another.',
            self.person.full_name,
            session.created_at.strftime("%Y-%m-%d %H:%M"),
            reverse("staff:session", args=[session.pk]),
        )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        project = data.get("project")
        if isinstance(project, Project):
            from verification.services import open_session_for

            if open_one := open_session_for(person_id=self.person.pk, project_id=project.pk):
                self.add_error("project", self.open_session_error(open_one))
        channel = data.get("channel")
        if channel == VerificationSession.Channel.EMAIL and not self.person.email:
            self.add_error(
                "channel", f"{self.person.full_name} has no email address; add one first."
            )
        if channel == VerificationSession.Channel.SMS and not self.person.phone:
            self.add_error(
                "channel", f"{self.person.full_name} has no phone number; add one first."
            )
        return data


def _comparable(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(folded.split())


class ConsentForm(forms.Form):
    signature_name = forms.CharField(
        max_length=200,
        label=_("Type your full name"),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    agree = forms.BooleanField(
        label=_("I have read the text above and I agree to it."),
        error_messages={"required": _("Tick the box to show that you agree.")},
    )

    representation = forms.CharField(
        max_length=300,
        required=False,
        label=_("Represented by (optional)"),
        help_text=_("Your lawyer, agent or union, with a way to reach them."),
    )
    guardian_name = forms.CharField(
        max_length=200,
        required=False,
        label=_("Guardian's full name (only if you are under 18)"),
    )
    guardian_relationship = forms.CharField(
        max_length=100, required=False, label=_("Guardian's relationship to you")
    )

    def __init__(self, *args: object, expected_name: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.expected_name = expected_name

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("guardian_name") and not data.get("guardian_relationship"):
            self.add_error("guardian_relationship", _("Say how the guardian is related to you."))
        return data

    def clean_signature_name(self) -> str:
        typed = " ".join(self.cleaned_data["signature_name"].split())
        if _comparable(typed) != _comparable(self.expected_name):
            raise forms.ValidationError(
                _("Type your full name exactly as the studio has it: %(name)s")
                % {"name": self.expected_name}
            )
        return typed

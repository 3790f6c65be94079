"""Persons, consent texts, consents, verification sessions, invitations and liveness attempts."""

import hashlib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.crypto import EncryptedTextField
from portal.models import StatusMachine


class Language(models.TextChoices):
    EN = "en", "English"
    ZH_HANS = "zh-hans", "简体中文"
    ZH_HANT = "zh-hant", "繁體中文"

    @property
    def upstream_lng(self) -> str:
        """The upstream H5 page's `lng` value for this language."""
        return {"en": "en", "zh-hans": "zh", "zh-hant": "zh-Hant"}[self.value]


class MediaKind(models.TextChoices):
    IMAGE = "image", "Face images"
    VIDEO = "video", "Video"
    AUDIO = "audio", "Voice recordings"


class AuthorizingPerson(models.Model):
    """A real person whose likeness the studio wants to use. No account: they act through links."""

    full_name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(
        max_length=16,
        blank=True,
        help_text="In international form: a plus sign, the country code, then the number, "
        "e.g. +14155550123.",
    )
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_interaction_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["full_name", "pk"]
        # What every staff page calls them.
        verbose_name = "person"

    def __str__(self) -> str:
        return self.full_name


class Project(models.Model):
    """What the studio will use a likeness for; consent is given per project."""

    name = models.CharField(max_length=200, unique=True)
    intended_use = models.TextField(
        help_text="A reasonably specific description of how the likeness will be used."
    )
    is_active = models.BooleanField(
        default=True,
        help_text="Untick when the project is done: its persons' media is destroyed after the "
        "days set for closed projects (30 unless the operator changed it), unless another "
        "project of theirs is still open.",
    )
    closed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the project was last closed."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Retention counts from the closing, so the moment is kept; reopening clears it.
        if self.is_active:
            self.closed_at = None
        elif self.closed_at is None:
            self.closed_at = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "is_active" in update_fields:
            kwargs["update_fields"] = {*update_fields, "closed_at"}
        super().save(*args, **kwargs)


class ConsentTextQuerySet(models.QuerySet["ConsentText"]):
    def in_use(self) -> "ConsentTextQuerySet":
        return self.filter(Q(consents__isnull=False) | Q(sessions__isnull=False)).distinct()


class ConsentText(models.Model):
    """One version of the words a person agrees to. Frozen once a session or consent uses it."""

    title = models.CharField(max_length=200)
    version = models.CharField(max_length=40)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    body = models.TextField()
    sha256 = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentTextQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "language"], name="consent_text_version_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version} ({self.language})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The hash is derived data: it always matches the words stored.
        self.sha256 = self.digest(self.title, self.body)
        super().save(*args, **kwargs)

    @staticmethod
    def digest(title: str, body: str) -> str:
        """SHA-256 over the exact words shown: the title, a blank line, the body (LF line ends)."""
        shown = f"{title}\n\n{body}".replace("\r\n", "\n")
        return hashlib.sha256(shown.encode()).hexdigest()

    @property
    def is_frozen(self) -> bool:
        return self.pk is not None and (self.consents.exists() or self.sessions.exists())


class VerificationSessionQuerySet(models.QuerySet["VerificationSession"]):
    def open(self) -> "VerificationSessionQuerySet":
        return self.filter(status__in=VerificationSession.OPEN)


class VerificationSession(StatusMachine):
    """One journey of one person: invitation, consent, liveness, group."""

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        INVITED = "invited", "Invited"
        OPENED = "opened", "Link opened"
        CONSENTED = "consented", "Consented"
        VERIFYING = "verifying", "Verifying"
        VERIFIED = "verified", "Verified"
        FAILED = "failed", "Verification failed"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        IN_PERSON = "in_person", "In person (QR code)"

    class Proof(models.TextChoices):
        """How the person shows it is them, besides their link."""

        LIVENESS = "liveness", "A liveness check"
        CODE = "code", "A one-time code sent to their own email or phone"

    TERMINAL = (Status.VERIFIED, Status.EXPIRED, Status.CANCELLED)
    AWAITING_CONSENT = (Status.CREATED, Status.INVITED, Status.OPENED)
    OPEN = (
        Status.CREATED,
        Status.INVITED,
        Status.OPENED,
        Status.CONSENTED,
        Status.VERIFYING,
        Status.FAILED,
    )

    person = models.ForeignKey(AuthorizingPerson, on_delete=models.PROTECT, related_name="sessions")
    account = models.ForeignKey(
        "upstream.UpstreamAccount", on_delete=models.PROTECT, related_name="+"
    )
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="sessions")
    consent_text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="sessions")
    media_kinds = models.JSONField(
        default=list, help_text="The kinds of media consent is asked for."
    )
    term_ends_on = models.DateField(
        null=True,
        blank=True,
        help_text="The consent asked for ends on this day (none: until withdrawn).",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    upstream_group_id = models.CharField(max_length=128, blank=True)
    # A verified group serves a new project only when the person proves it is them again: a code
    # sent to their own email or phone (a fresh liveness check instead makes a new group).
    consent_proof = models.CharField(
        max_length=16, choices=Proof.choices, default=Proof.LIVENESS, editable=False
    )
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Held while a liveness check is being started (verification.limits.liveness_start).
    start_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects = VerificationSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"Verification of {self.person} ({self.get_status_display()})"

    @property
    def can_start_liveness(self) -> bool:
        return self.consent_proof == self.Proof.LIVENESS and self.status in (
            self.Status.CONSENTED,
            self.Status.VERIFYING,
            self.Status.FAILED,
        )

    @property
    def awaits_code(self) -> bool:
        """Consented on a reused group; the group serves once the person enters their code."""
        return self.consent_proof == self.Proof.CODE and self.status == self.Status.CONSENTED


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def usable(self, now: datetime | None = None) -> "InvitationQuerySet":
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now()).exclude(
            token_hash=""
        )


class Invitation(models.Model):
    """One link issued to a person. Only the token's SHA-256 is stored; the token itself exists only
    in the message or page that carried it. A new link revokes the older ones of the session."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SHOWN = "shown", "Shown to staff"
        FAILED = "failed", "Sending failed"

    session = models.ForeignKey(
        VerificationSession, on_delete=models.CASCADE, related_name="invitations"
    )
    channel = models.CharField(max_length=16, choices=VerificationSession.Channel.choices)
    recipient = models.CharField(max_length=254, blank=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    # An in-person link: the browser of the staff member who showed it (who is `created_by`).
    shown_on = models.CharField(max_length=512, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["token_hash"],
                condition=~Q(token_hash=""),
                name="invitation_token_hash_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} link for {self.session.person}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class LivenessAttemptQuerySet(models.QuerySet["LivenessAttempt"]):
    def due_for_poll(self, now: datetime | None = None) -> "LivenessAttemptQuerySet":
        """Waiting for a result, time to ask again, and no worker holding it."""
        now = now or timezone.now()
        return self.filter(status=LivenessAttempt.Status.PENDING, next_poll_at__lte=now).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        )


class LivenessAttempt(models.Model):
    """One upstream verification session (a BytedToken and its short-lived H5Link).

    The person may start several (an H5Link lives ~120 s); any of them that yields a GroupId
    verifies the session. The BytedToken is kept encrypted for polling and hashed for the callback.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the person"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        # The upstream stopped answering for it before a GroupId was stored (a single-use result
        # read whose answer was lost, or an expired token): a new check is needed.
        LOST = "lost", "Result lost"
        SUPERSEDED = "superseded", "Superseded"

    session = models.ForeignKey(
        VerificationSession, on_delete=models.CASCADE, related_name="attempts"
    )
    # Opaque, unguessable id in the callback URL (never the person's link token).
    ref = models.CharField(max_length=43, unique=True)
    byted_token = EncryptedTextField()
    byted_token_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    result_code = models.CharField(max_length=32, blank=True)
    group_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    h5_expires_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="After this the upstream result is given up on.")
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = LivenessAttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_poll_at"])]

    def __str__(self) -> str:
        return f"Liveness attempt {self.ref[:8]}… ({self.get_status_display()})"


class Consent(models.Model):
    """A person's agreement to one consent text, for one project and scope."""

    person = models.ForeignKey(AuthorizingPerson, on_delete=models.PROTECT, related_name="consents")
    session = models.ForeignKey(
        VerificationSession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consents",
    )
    text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="consents")
    text_sha256 = models.CharField(max_length=64)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="consents")
    intended_use = models.TextField()
    media_kinds = models.JSONField(default=list)
    term_ends_on = models.DateField(null=True, blank=True)
    signature_name = models.CharField(max_length=200)
    # Optional: who represents the person (counsel, union), and a guardian who consents for a minor.
    representation = models.CharField(max_length=300, blank=True)
    guardian_name = models.CharField(max_length=200, blank=True)
    guardian_relationship = models.CharField(max_length=100, blank=True)
    signed_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # Given in person, through a link staff showed: who showed it (their name as it was then, in
    # case the account goes), and the browser it was shown on.
    shown_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shown_by_name = models.CharField(max_length=300, blank=True)
    shown_on = models.CharField(max_length=512, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # When everything the consent covered was deleted upstream and here, after withdrawal.
    destroyed_at = models.DateTimeField(null=True, blank=True)
    # When the receipt email was handed to the mail server (claimed just before, so it goes once).
    receipt_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-signed_at"]

    def __str__(self) -> str:
        return f"Consent of {self.person} to {self.project}"

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        if self.withdrawn_at is not None:
            return False
        return self.term_ends_on is None or self.term_ends_on >= now.date()

    def covers(self, kind: str) -> bool:
        return self.is_active() and kind in self.media_kinds


class StaffNotice(models.Model):
    """A message on a staff member's dashboard, e.g. "Jane Doe is verified"."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(VerificationSession, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "seen_at"])]

    def __str__(self) -> str:
        return self.text


class ConsentCode(models.Model):
    """The one-time code that binds a consent on a reused group to the person: sent to their own
    email or phone on file, entered on their link's page. Only a keyed hash is stored (staff and
    the database can't read or brute-force it offline); the code itself is never logged."""

    session = models.OneToOneField(
        VerificationSession, on_delete=models.CASCADE, related_name="consent_code"
    )
    code_hash = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, choices=VerificationSession.Channel.choices)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    sends = models.PositiveSmallIntegerField(default=1)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Consent code for session {self.session_id}"

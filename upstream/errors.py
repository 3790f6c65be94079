"""One error tree for both adapters. The class says what to do next:

- ``UpstreamUnavailable`` — connect errors, timeouts, 429, 5xx, garbled answers: retry later
  (honour ``retry_after`` when set).
- ``UpstreamRejected`` — the upstream said no (other 4xx): permanent for this request.
- ``UpstreamAuthError`` — the credential itself is wrong or not allowed: permanent, alert staff.

Specific subclasses carry plain-words ``explanation`` and ``fix`` for people and staff.
Messages never contain credentials: the client scrubs every error before raising it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar


class UpstreamError(Exception):
    """Base of every error the client raises.

    ``code`` is the upstream's code (or a ``Local.*`` code for refusals made before sending),
    ``message`` the upstream's own text, ``explanation``/``fix`` plain words for a person.
    """

    retryable: ClassVar[bool] = False
    default_code: ClassVar[str] = ""
    default_explanation: ClassVar[str] = "The upstream service reported an error."
    default_fix: ClassVar[str] = "Try again later; if it keeps happening, tell the studio staff."

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        http_status: int | None = None,
        action: str = "",
        request_id: str = "",
        explanation: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.code = code or self.default_code
        self.http_status = http_status
        self.action = action
        self.request_id = request_id
        self.explanation = explanation or self.default_explanation
        self.fix = fix or self.default_fix
        super().__init__(self._summary())

    def scrub(self, clean: Callable[[str], str]) -> None:
        """Pass the upstream's message through ``clean`` (which removes echoed credentials)."""
        self.message = clean(self.message)
        self.args = (self._summary(),)

    def _summary(self) -> str:
        head = " ".join(
            part
            for part in (
                self.action or None,
                f"HTTP {self.http_status}" if self.http_status else None,
                self.code or None,
            )
            if part
        )
        text = self.message or self.explanation
        return f"{head}: {text}" if head else text


class UpstreamUnavailable(UpstreamError):
    """Temporary: try again later, no sooner than ``retry_after`` seconds when that is set.

    ``maybe_processed`` is False only when the request certainly never reached the upstream's
    application (refused connection, 429): a create call can then be resent without a look-up.
    """

    retryable = True
    default_code = "Local.Unavailable"
    default_explanation = "The upstream service could not be reached or did not answer in time."
    default_fix = "Nothing to change: the portal tries again automatically."

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        http_status: int | None = None,
        action: str = "",
        request_id: str = "",
        retry_after: float | None = None,
        maybe_processed: bool = True,
        explanation: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.maybe_processed = maybe_processed
        super().__init__(
            message,
            code=code,
            http_status=http_status,
            action=action,
            request_id=request_id,
            explanation=explanation,
            fix=fix,
        )


class UpstreamRejected(UpstreamError):
    """Permanent for this request: sending it again won't help."""

    default_explanation = "The upstream service refused the request."
    default_fix = "Check the file or the request; sending the same thing again will fail again."


class UpstreamAuthError(UpstreamError):
    """The credential is wrong, expired or lacks rights. Staff must fix the account."""

    default_explanation = "The upstream service did not accept the account's credentials."
    default_fix = "Staff: check the upstream account's credentials in the admin."


# --- Temporary --------------------------------------------------------------------------------


class RateLimited(UpstreamUnavailable):
    default_code = "Local.RateLimited"
    default_explanation = "The upstream service is limiting how fast this account may call it."


class UnexpectedResponse(UpstreamUnavailable):
    """The answer wasn't what the contract promises (HTML, bad JSON, missing fields)."""

    default_code = "Local.UnexpectedResponse"
    default_explanation = "The upstream service answered with something the portal can't read."
    default_fix = (
        "Usually a proxy or an outage page; the portal tries again. If it persists, staff should "
        "check the account's base URL."
    )


# --- Credentials and configuration ------------------------------------------------------------


class InvalidCredentials(UpstreamAuthError):
    default_code = "Local.InvalidCredentials"
    default_explanation = (
        "The upstream service did not accept the API token (missing, mistyped or revoked)."
    )
    default_fix = "Staff: paste a valid token into the upstream account in the admin."


class WrongTokenGroup(UpstreamAuthError):
    default_code = "WrongTokenGroup"
    default_explanation = (
        "This Anyfast token isn't allowed to do real-person verification: it was created in a "
        "token group other than Byteplus-Direct."
    )
    default_fix = (
        "Staff: create a token in Anyfast's Byteplus-Direct group and put it on this upstream "
        "account. Groups made with the old token stay visible only to the old token."
    )


class AccessDenied(UpstreamAuthError):
    default_code = "AccessDenied"
    default_explanation = (
        "The BytePlus access key is valid but its user may not call the asset API."
    )
    default_fix = (
        "Staff: attach a policy that allows the Ark asset actions to the access key's IAM user."
    )


class SignatureRejected(UpstreamAuthError):
    default_code = "SignatureDoesNotMatch"
    default_explanation = "BytePlus refused the request signature."
    default_fix = (
        "Staff: check the access key id, secret access key and region of the upstream account, "
        "and that this server's clock is right (requests are dated)."
    )


class AccountMisconfigured(UpstreamAuthError):
    """Refused before sending: the stored account can't make a valid request."""

    default_code = "Local.AccountMisconfigured"
    default_explanation = "The upstream account is incomplete or its base URL is not usable."
    default_fix = "Staff: complete the upstream account in the admin."


# --- The request or the file ------------------------------------------------------------------


class MissingCallbackUrl(UpstreamRejected):
    default_code = "MissingParameter.CallbackURL"
    default_explanation = "The verification session was requested without a callback address."
    default_fix = "Staff: set PUBLIC_BASE_URL so the portal can build its callback address."


class GroupNotFound(UpstreamRejected):
    default_code = "NotFound.group_id"
    default_explanation = (
        "The upstream doesn't know this asset group for this account: it was deleted, or another "
        "token created it (each token sees only its own groups)."
    )
    default_fix = "Use the upstream account that ran the person's verification, or verify again."


class AssetNotFound(UpstreamRejected):
    default_code = "NotFound.asset_id"
    default_explanation = (
        "The upstream doesn't know this asset for this account: it failed early in processing, "
        "its name duplicated another asset in the group, or another token created it."
    )
    default_fix = "Upload the file again under a new name."


class DuplicateName(UpstreamRejected):
    """Another asset in the group already has this Name. ``create_asset`` resolves it itself by
    returning that asset's Id; callers see it only if the other asset can't be found."""

    default_code = "InvalidParameter.DuplicateName"
    default_explanation = "An asset with this name already exists in the group."
    default_fix = "Upload the file again under a new name."


class VerificationExpired(UpstreamRejected):
    default_code = "InvalidParameter.BytedTokenExpired"
    default_explanation = (
        "The upstream no longer answers for this verification session: it expired, its result "
        "was already read, or another token started it."
    )
    default_fix = "Start a new verification session."


class FaceMismatch(UpstreamRejected):
    default_code = "FaceMismatch"
    default_explanation = "The face in this file doesn't match the person who did the verification."
    default_fix = (
        "Upload a clear, well-lit, front-facing picture or video of the same person, face "
        "unobstructed."
    )


class PixelCountTooSmall(UpstreamRejected):
    default_code = "PixelCountTooSmall"
    default_explanation = "The video's frames are too small for the upstream."
    default_fix = "Re-encode the video at a larger size (720p or more) and upload it again."


class DownloadFailed(UpstreamRejected):
    default_code = "InvalidParameter.DownloadFailed"
    default_explanation = "The upstream could not download the file from the address it was given."
    default_fix = (
        "Staff: the file's URL must be reachable from the internet and stay valid long enough; "
        "check the portal's public address or switch the transfer mode."
    )


class ContentPolicyViolation(UpstreamRejected):
    default_code = "InputImageSensitiveContentDetected.PolicyViolation"
    default_explanation = "The upstream's content moderation refused this file."
    default_fix = "Use a different file; this one will be refused every time."


class SourceTooLarge(UpstreamRejected):
    """Refused before sending: an inline (Base64) body would exceed the upstream's body cap."""

    default_code = "Local.SourceTooLarge"
    default_explanation = "The file is too large to send inline inside the request."
    default_fix = "Staff: send large files by URL (or multipart) instead of inline."


class SourceNotSupported(UpstreamRejected):
    """Refused before sending: this adapter can't carry the file this way."""

    default_code = "Local.SourceNotSupported"
    default_explanation = "This upstream account can't receive files the configured way."
    default_fix = "Staff: choose the URL or inline transfer mode for this account."

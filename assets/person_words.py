"""A file's state and problems in the words of the person who sent it, in their language.

The checks write their messages in English for staff (with the measured figures); the person's
pages and the uploader's answers to the person say the same by each problem's stable code.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _

from assets.media.facts import ProblemCode as Code
from assets.models import Asset

STATUS = {
    Asset.Status.RECEIVED: _("Received"),
    Asset.Status.VALIDATED: _("Checked"),
    Asset.Status.FORWARDING: _("Being sent to our video partner"),
    Asset.Status.PROCESSING: _("Being sent to our video partner"),
    Asset.Status.ACTIVE: _("Ready"),
    Asset.Status.FAILED: _("Could not be added"),
    Asset.Status.REJECTED: _("Not accepted"),
    Asset.Status.DELETED: _("Deleted"),
}
SIZE = _("It is outside the size limits given on this page.")
LENGTH = _("It is outside the length limits given on this page.")
BROKEN = _("The file is damaged or incomplete; send the original from your phone or camera.")
PROBLEMS = {
    Code.EMPTY_FILE: _("The file is empty."),
    Code.UNKNOWN_TYPE: _("This is not a photo, video or voice recording we can read."),
    Code.FORMAT_NOT_ALLOWED: _("This file type is not accepted; the page lists the ones that are."),
    Code.NOT_COVERED_BY_CONSENT: _("Your consent does not cover this kind of file."),
    Code.EXTENSION_MISMATCH: _("The file's name says one type, its content another."),
    Code.POLYGLOT: _("The file holds more than one kind of content, so it can't be accepted."),
    Code.TRAILING_DATA: _(
        "The file carries extra data after its content, so it can't be accepted."
    ),
    Code.DECOMPRESSION_BOMB: _("The picture is far too large once opened."),
    Code.ANIMATED_IMAGE: _("Animated pictures are not accepted; send a still photo."),
    Code.CORRUPT: BROKEN,
    Code.TRUNCATED: BROKEN,
    Code.FILE_TOO_LARGE: _("The file is larger than the limit given on this page."),
    Code.SIDE_TOO_SHORT: SIZE,
    Code.SIDE_TOO_LONG: SIZE,
    Code.ASPECT_RATIO: _("The picture is too narrow or too wide."),
    Code.PIXEL_COUNT_TOO_SMALL: SIZE,
    Code.PIXEL_COUNT_TOO_LARGE: SIZE,
    Code.TOO_SHORT: LENGTH,
    Code.TOO_LONG: LENGTH,
    Code.FRAME_RATE_TOO_LOW: _("The video's frame rate is too low."),
    Code.FRAME_RATE_TOO_HIGH: _("The video's frame rate is too high."),
    Code.NO_VIDEO_TRACK: _("The file has no picture."),
    Code.NO_FACE: _("We could not find a face. The photo or video must show you clearly."),
    Code.SEVERAL_FACES: _("More than one face is in view; it should show only you."),
    Code.FACE_TOO_SMALL: _("Your face is small in the picture; come closer to the camera."),
    Code.FACE_NOT_FRONTAL: _("Your face is turned away; look straight into the camera."),
    Code.FACE_TILTED: _("Your head is tilted; hold it upright."),
    Code.BLURRY: _("Your face is blurry; hold still in good light."),
    Code.FACE_CHECK_UNAVAILABLE: _(
        "The face could not be checked here; our partner will check it."
    ),
}
OTHER = _("This file can't be used; ask the studio what to send instead.")
FAILED = _("Our video partner could not add this file; the studio will see why and contact you.")
DELAYED = _("It has not reached our video partner yet; we keep trying.")


def status(asset: Asset) -> str:
    return str(STATUS.get(Asset.Status(asset.status), asset.get_status_display()))


def problem(entry: dict[str, Any]) -> dict[str, Any]:
    """One problem as `Problem.as_dict()` stores it, its message in the person's words."""
    try:
        words = PROBLEMS.get(Code(entry.get("code", "")), OTHER)
    except ValueError:
        words = OTHER
    return {**entry, "message": str(words)}


def problems(asset: Asset) -> list[dict[str, Any]]:
    return [problem(entry) for entry in asset.warnings]


def refusal(asset: Asset) -> str:
    """Why a refused file was refused: the words of each of its errors, once each."""
    errors = [p["message"] for p in problems(asset) if p.get("severity") == "error"]
    return " ".join(dict.fromkeys(errors)) or str(OTHER)


def error(asset: Asset) -> str:
    """What went wrong with the file, for the person: never the upstream's codes."""
    if asset.status == Asset.Status.REJECTED:
        return refusal(asset)
    return str(FAILED if asset.status == Asset.Status.FAILED else DELAYED)

"""Switches: the contract's open questions, each answerable either way by a test.

Defaults follow what CONTRACT.md reports as seen (or documented, when nothing was seen). Values
are persisted in the state file, so a restart keeps them; ``POST /_control/reset`` restores the
defaults. docs/upstream-accounts.md ("Where the contract is unsure") gives the evidence for each
default and what the portal does under every value.
"""

from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Switch:
    default: Any
    help: str
    choices: tuple[str, ...] = ()


SWITCHES: dict[str, Switch] = {
    "liveness_assets_visible_to_get_asset": Switch(
        True, "GetAsset finds assets in LivenessFace groups (false: only ListAssets does)"
    ),
    "liveness_groups_in_list": Switch(
        False, "ListAssetGroups shows LivenessFace groups (seen: it may not)"
    ),
    "result_token_single_use": Switch(
        False, "GetVisualValidateResult answers only once after the GroupId is known"
    ),
    "report_inactive_instead_of_active": Switch(
        False, "ready assets report Status 'Inactive' instead of 'Active'"
    ),
    "video_pixel_range": Switch(
        "wide",
        "pixels per video frame: narrow 409600-927408, wide 407696-8295044",
        ("narrow", "wide"),
    ),
    "duplicate_name_behaviour": Switch(
        "phantom",
        "CreateAsset with a Name already in the group: 'phantom' answers 200 with a new Id that "
        "GetAsset then answers NotFound.asset_id (seen); 'reject' fails it with "
        "InvalidParameter.DuplicateName; 'not_found' fails it with 404 NotFound.asset_id",
        ("phantom", "reject", "not_found"),
    ),
    "wrong_group_liveness_lists": Switch(
        "refused",
        "a token outside Byteplus-Direct listing with Filter.GroupType LivenessFace: 'refused' "
        "answers 'GroupType must be one of [AIGC]' (doc: 'asks for ... LivenessFace groups'); "
        "'answered' lists nothing with 200 (sessions are refused either way)",
        ("refused", "answered"),
    ),
    "gateway_check_error_shape": Switch(
        "plain",
        "errors from the gateway's own checks (token group, unreadable body, unknown action): "
        "'plain' = {code: <HTTP status>, message} (seen); 'gateway' = {error: {type, code, message}}",
        ("plain", "gateway"),
    ),
    "preprocessing_failures_vanish": Switch(
        False, "assets failing the media checks become NotFound.asset_id instead of Failed"
    ),
    "multipart_assets_stay_processing": Switch(
        False, "multipart uploads never leave Processing (one public client saw this)"
    ),
    "download_failure": Switch(
        "error",
        "a URL the upstream can't fetch: 'error' fails CreateAsset with "
        "InvalidParameter.DownloadFailed; 'asset_failed' returns an Id that goes Failed",
        ("error", "asset_failed"),
    ),
    "relayed_error_format": Switch(
        "envelope",
        "JSON inside an Anyfast relayed error: 'envelope' = {ResponseMetadata:{..., Error}}, "
        "'bare' = {Code, Message}",
        ("envelope", "bare"),
    ),
    "link_ttl_seconds": Switch(120.0, "H5Link validity from session creation"),
    "result_token_ttl_seconds": Switch(1800.0, "how long GetVisualValidateResult answers"),
    "processing_seconds": Switch(3.0, "Processing -> Active/Failed delay"),
    "download_timeout_seconds": Switch(10.0, "total time allowed to fetch a CreateAsset URL"),
    "max_body_bytes": Switch(64 * MIB, "request body cap (HTTP 413 beyond it)"),
    "signature_max_skew_seconds": Switch(900.0, "allowed X-Date skew for BytePlus requests"),
}


class SwitchError(ValueError):
    pass


def coerce(name: str, value: Any) -> Any:
    """Validate ``value`` for switch ``name``, returning it in the switch's type."""
    switch = SWITCHES.get(name)
    if switch is None:
        raise SwitchError(f"unknown switch {name!r}")
    default = switch.default
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SwitchError(f"{name} must be true or false")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise SwitchError(f"{name} must be a non-negative number")
        return type(default)(value)
    if value not in switch.choices:
        raise SwitchError(f"{name} must be one of {list(switch.choices)}")
    return value


def defaults() -> dict[str, Any]:
    return {name: switch.default for name, switch in SWITCHES.items()}

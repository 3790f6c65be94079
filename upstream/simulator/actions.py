"""The upstream's actions, shared by both adapters.

Each action takes the caller, its parameters (already decoded from JSON or a multipart form) and
returns the bare ``Result`` object, or raises ``ApiError``. The adapters only translate: Anyfast
returns the result as is and wraps errors in its three shapes; BytePlus wraps both in
``ResponseMetadata``/``Result``.
"""

from collections.abc import Callable
from typing import Any

from upstream.simulator import groups, library, verification
from upstream.simulator.core import ApiError, Caller, Context, Upload

Action = Callable[[Context, Caller, dict[str, Any], Upload | None], dict[str, Any]]

ACTIONS: dict[str, Action] = {
    "CreateVisualValidateSession": verification.create_session,
    "GetVisualValidateResult": verification.get_result,
    "CreateAssetGroup": groups.create_group,
    "ListAssetGroups": groups.list_groups,
    "DeleteAssetGroup": groups.delete_group,
    "CreateAsset": library.create_asset,
    "GetAsset": library.get_asset,
    "ListAssets": library.list_assets,
    "DeleteAsset": library.delete_asset,
}


def perform(
    ctx: Context,
    caller: Caller,
    action: str,
    params: dict[str, Any],
    upload: Upload | None = None,
) -> dict[str, Any]:
    """Run ``action``; raises ``ApiError`` for unknown actions and every upstream refusal."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise ApiError(404, "InvalidActionOrVersion", f"Action {action} is not supported.")
    return handler(ctx, caller, params, upload)

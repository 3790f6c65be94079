"""The upstream faults both chaos tests inject through the simulator's control API."""

FAULTS: list[tuple[str, dict[str, object]]] = [
    ("CreateVisualValidateSession", {"kind": "error", "status": 503}),
    ("GetVisualValidateResult", {"kind": "error", "status": 502}),
    ("GetVisualValidateResult", {"kind": "rate_limit", "retry_after": 1}),
    ("CreateAsset", {"kind": "commit_then_drop"}),
    ("CreateAsset", {"kind": "error", "status": 503}),
    ("CreateAsset", {"kind": "rate_limit", "retry_after": 1}),
    ("CreateAsset", {"kind": "hang", "seconds": 2}),
    ("GetAsset", {"kind": "error", "status": 500}),
    ("ListAssets", {"kind": "error", "status": 503}),
]

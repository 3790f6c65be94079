"""Public ids that say their kind: `per_12` is person 12. Row ids of the other apps stay theirs."""

PREFIXES = {
    "person": "per",
    "session": "ses",
    "consent": "con",
    "group": "grp",
    "asset": "ast",
    "project": "prj",
    "consent_text": "ctx",
    "account": "acc",
}


def public(kind: str, pk: int | None) -> str | None:
    return None if pk is None else f"{PREFIXES[kind]}_{pk}"


def parse(kind: str, value: str) -> int | None:
    """The row id in `value` (`per_12` → 12), or None when it is not an id of this kind."""
    prefix = PREFIXES[kind] + "_"
    digits = value[len(prefix) :] if value.startswith(prefix) else ""
    if not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)

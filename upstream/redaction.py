"""Keeping credentials out of text: a wrapper that never prints itself, and a scrubber."""

from __future__ import annotations

import re
from collections.abc import Iterable

_BEARER = re.compile(r"(Bearer\s+)\S+", re.I)


class Secret:
    """A credential string that shows as ``***`` in reprs, f-strings and ``vars()`` dumps.
    Only :meth:`reveal` gives the value, at the one place it goes on the wire."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and anything after "Bearer ") replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _BEARER.sub(r"\1***", text)

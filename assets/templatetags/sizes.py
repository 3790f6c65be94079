"""File sizes in one unit system everywhere: decimal (1 MB = 1,000,000 bytes), as the upstream's
limits, the limits on the upload page and the uploader script state them. Django's
`filesizeformat` counts in 1,024s while writing "MB", which disagrees with all three."""

import math

from django import template

register = template.Library()


@register.filter
def decimal_size(value: int | None) -> str:
    """1234567 → "1.2 MB"; the same rounding as static/js/upload.js's `megabytes`."""
    size = int(value or 0)
    if size >= 1_000_000:
        return f"{_half_up(size / 100_000) / 10:g} MB"
    if size >= 1_000:
        return f"{_half_up(size / 1_000)} KB"
    return f"{size} B"


def _half_up(number: float) -> int:
    """JavaScript's Math.round (Python's round() rounds halves to even)."""
    return math.floor(number + 0.5)

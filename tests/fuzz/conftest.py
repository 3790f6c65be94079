"""Hostile input through the real endpoints. Run with `pytest -m fuzz`.

Hypothesis profiles (`HYPOTHESIS_PROFILE`): "ci" (default, about a minute for the whole suite),
"dev" (a quick look), "thorough" (a long soak). Each example runs in its own savepoint that is
rolled back, so examples never see each other's rows.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, settings

from tests.security.conftest import alice  # noqa: F401  (a fixture, shared)
from tests.security.people import make_invited

_COMMON = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("ci", _COMMON, max_examples=250)
settings.register_profile("dev", _COMMON, max_examples=10)
settings.register_profile("thorough", _COMMON, max_examples=1000)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")


def examples(share: float) -> settings:
    """This test's share of the profile's examples (the slow ones take fewer)."""
    chosen = settings.get_profile(PROFILE)
    return settings(chosen, max_examples=max(3, round(chosen.max_examples * share)))


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example's rows, and its throttle counters, are gone once it ends."""
    cache.clear()
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def fresh_link(account, project, consent_text, staff_user):
    """A new person with an unused link, for tests that use one up per example."""

    def make(name: str = "Dana Example") -> tuple[str, object]:
        return make_invited(
            name,
            account=account,
            project=project,
            consent_text=consent_text,
            staff_user=staff_user,
        )

    return make

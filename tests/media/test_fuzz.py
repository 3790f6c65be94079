"""Hostile mutations of real media: `inspect` must answer, never raise. Run with `-m fuzz`."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.media import Inspection, MediaLimits, MetadataError, inspect, strip_location_metadata

from .conftest import Media

pytestmark = pytest.mark.fuzz

SEEDS = ["jpeg", "png", "gif", "webp", "heic", "mp4", "mov", "wav", "mp3"]


def seed(media: Media, kind: str) -> bytes:
    if kind in {"mp4", "mov"}:
        return media.video((640, 640), seconds=2, container=kind, audio=True).read_bytes()
    if kind == "wav":
        return media.wav(2.5).read_bytes()
    if kind == "mp3":
        return media.mp3(2.5).read_bytes()
    return media.image((640, 480), "HEIF" if kind == "heic" else kind.upper()).read_bytes()


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**7), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**7), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**7), st.integers(0, 255)),
    st.tuples(st.just("stamp"), st.integers(0, 10**7), st.integers(0, 2**32 - 1)),
)


def mutate(data: bytes, steps: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for op, where, value in steps:
        at = where % max(1, len(out))
        if op == "flip" and out:
            out[at] ^= value
        elif op == "cut":
            del out[at:]
        elif op == "insert":
            out[at:at] = bytes([value]) * 16
        elif op == "stamp":  # box sizes and lengths are 32-bit: write a hostile one
            out[at : at + 4] = value.to_bytes(4, "big")
    return bytes(out)


@pytest.mark.parametrize("kind", SEEDS)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(mutation, min_size=1, max_size=4))
def test_inspect_never_raises_on_mutated_media(
    media: Media,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    steps: list[tuple[str, int, int]],
) -> None:
    caplog.clear()
    path = tmp_path / f"mutant.{kind}"
    path.write_bytes(mutate(seed(media, kind), steps))
    result = inspect(path, original_name=path.name, limits=MediaLimits())
    assert isinstance(result, Inspection)
    assert result.facts is not None or result.problems
    for problem in result.problems:
        assert problem.message and problem.message[0].isupper()
    # The catch-all in `inspect` logs parser crashes; none should be needed.
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp", "heic", "mp4", "mov"])
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(mutation, min_size=1, max_size=3))
def test_stripping_mutated_media_succeeds_or_refuses(
    media: Media, tmp_path: Path, kind: str, steps: list[tuple[str, int, int]]
) -> None:
    path = tmp_path / f"mutant.{kind}"
    mutant = mutate(seed(media, kind), steps)
    path.write_bytes(mutant)
    try:
        strip_location_metadata(path)
    except MetadataError:
        if kind in {"jpeg", "png", "webp"}:  # rewritten formats are left as they were
            assert path.read_bytes() == mutant

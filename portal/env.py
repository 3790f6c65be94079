"""Reading configuration from the environment.

Every setting comes from an environment variable with a development default. Secrets are read from
``NAME`` or from the file named by ``NAME_FILE`` (Docker and Kubernetes secrets). When neither is
set, a random value is generated once and kept in ``var/secrets/`` so a bare checkout runs with zero
configuration; ``check --deploy`` warns about such generated secrets (see ``portal.checks``).
"""

import os
import secrets
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SITTER_VAR_DIR", BASE_DIR / "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Names of secrets that fell back to a generated file, for the deploy check.
generated_secrets: list[str] = []


def text(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def integer(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw is None or raw.strip() == "" else int(raw)


def number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw is None or raw.strip() == "" else float(raw)


def items(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def optional_secret(name: str) -> str:
    """A secret from ``NAME`` or ``NAME_FILE``, or "" when the feature that needs it is unused."""
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return os.environ.get(name, "")


def secret(name: str, generate: Callable[[], str] = lambda: secrets.token_urlsafe(50)) -> str:
    """The secret ``name`` from the environment, a ``NAME_FILE``, or a generated local file."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    generated_secrets.append(name)
    return _generated(name, generate)


def _generated(name: str, generate: Callable[[], str]) -> str:
    folder = VAR_DIR / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name.lower()
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = generate()
    # Write aside, then link into place: when two processes start together, the first link wins
    # and the other reads its value, never a half-written file.
    scratch = folder / f".{path.name}.{os.getpid()}"
    scratch.write_text(value)
    scratch.chmod(0o600)
    try:
        os.link(scratch, path)
    except FileExistsError:
        value = path.read_text().strip()
    finally:
        scratch.unlink()
    return value

"""bin/backup and bin/restore, for real: a filled database and media folder are backed up,
restored into an empty database and folder, and hold the same records, files, ledger (with its
append-only triggers) and readable secrets.

Each run tests the database kind the suite runs on (about ten seconds of subprocesses): SQLite by
default, PostgreSQL with DATABASE_URL=postgres://… — CI runs the suite on both."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "SECRET_KEY": "backup-test-" + "s" * 50,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "AUDIT_SIGNING_KEY": "nB3f1kzv9VtV7Q0oT3h6m9kqJ8cXy2WbD4sRr5Lq0aA=",
}


def environment(var: Path, database_url: str) -> dict[str, str]:
    var.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(var),
        "SITTER_VAR_DIR": str(var),
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(var / "media"),
        "LOG_FORMAT": "plain",
        "LOG_LEVEL": "WARNING",
        "PYTHON": sys.executable,
        **SECRETS,
    }


def run(args: list[str], env: dict[str, str], *, check: bool = True):
    result = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def manage(env: dict[str, str], *args: str):
    return run([sys.executable, "manage.py", *args], env)


def describe(env: dict[str, str]) -> dict:
    out = manage(
        env, "shell", "-v0", "-c", "from tests.ops.backup_data import describe; describe()"
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def round_trip(tmp_path: Path, source_url: str, target_url: str) -> None:
    source = environment(tmp_path / "source", source_url)
    manage(source, "migrate", "--no-input", "-v0")
    manage(source, "shell", "-v0", "-c", "from tests.ops.backup_data import populate; populate()")
    before = describe(source)
    assert before["counts"]["verification.Consent"] == 1 and before["files"]

    folder = Path(run(["bin/backup", str(tmp_path / "backups")], source).stdout.strip())
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            "SHA256SUMS",
            "manifest.txt",
            "media.tar.gz",
            "database.pgdump" if source_url.startswith("postgres") else "database.sqlite3",
        ]
    )
    assert folder.stat().st_mode & 0o077 == 0  # personal data: the owner's eyes only

    target = environment(tmp_path / "target", target_url)
    restored = run(["bin/restore", str(folder)], target)
    assert "OK: " in restored.stdout  # verify_audit, run by the restore
    after = describe(target)
    assert after == before
    assert after["missing_triggers"] == []
    assert after["token"] == "sk-restored-token-0001"

    again = run(["bin/restore", str(folder)], target, check=False)
    assert again.returncode != 0
    assert "not empty" in again.stderr or "already holds a database" in again.stderr
    assert describe(target) == before

    (folder / "media.tar.gz").write_bytes(b"damaged")
    damaged = run(["bin/restore", str(folder)], target, check=False)
    assert damaged.returncode != 0 and "the backup is damaged" in damaged.stderr


ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.mark.skipif(ON_POSTGRES, reason="the suite runs on PostgreSQL: its round trip runs")
def test_a_sqlite_backup_restores_into_an_empty_database(tmp_path):
    round_trip(
        tmp_path,
        f"sqlite:///{tmp_path / 'source' / 'db.sqlite3'}",
        f"sqlite:///{tmp_path / 'target' / 'db.sqlite3'}",
    )


@pytest.fixture
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two scratch databases on the suite's PostgreSQL server, dropped afterwards."""
    base = os.environ["DATABASE_URL"]
    if shutil.which("psql") is None or shutil.which("pg_dump") is None:
        pytest.skip("PostgreSQL client tools are not installed")
    admin = urlunsplit(urlsplit(base)._replace(path="/postgres"))
    names = [f"sitter_backup_{os.getpid()}_{side}" for side in ("source", "target")]

    def sql(statement: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["psql", "--no-psqlrc", "-q", "-d", admin, "-c", statement],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    if sql("SELECT 1").returncode != 0:
        pytest.skip("no PostgreSQL server reachable")
    for name in names:
        sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        assert sql(f"CREATE DATABASE {name}").returncode == 0
    try:
        source, target = (urlunsplit(urlsplit(base)._replace(path=f"/{n}")) for n in names)
        yield source, target
    finally:
        for name in names:
            sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.skipif(not ON_POSTGRES, reason="runs when the suite runs on PostgreSQL")
def test_a_postgresql_backup_restores_into_an_empty_database(tmp_path, postgres_databases):
    source_url, target_url = postgres_databases
    round_trip(tmp_path, source_url, target_url)

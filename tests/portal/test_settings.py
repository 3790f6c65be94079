import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal import crypto, env

ROOT = Path(__file__).resolve().parents[2]


def production_environment(var_dir: Path) -> dict[str, str]:
    """What an operator sets in production: every secret, TLS, real hosts."""
    return {
        "PATH": os.environ["PATH"],
        "SITTER_VAR_DIR": str(var_dir),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_SIGNING_KEY": os.environ.get("TEST_AUDIT_SIGNING_KEY", ""),
        "PUBLIC_BASE_URL": "https://sitter.example.com",
        "ALLOWED_HOSTS": "sitter.example.com",
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
    }


def run_manage(*args: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_in_a_production_environment(tmp_path):
    environment = production_environment(tmp_path)
    environment.update(deploy_secrets())
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", environment=environment)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_warns_about_generated_secrets_and_plain_http(tmp_path):
    environment = production_environment(tmp_path)
    del environment["SECRET_KEY"]
    environment["PUBLIC_BASE_URL"] = "http://sitter.example.com"
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", environment=environment)
    assert result.returncode != 0
    assert "sitter.W001" in result.stderr and "SECRET_KEY" in result.stderr
    assert "sitter.W002" in result.stderr


def deploy_secrets() -> dict[str, str]:
    """Secrets that later apps add to settings, generated the way their docs say."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"AUDIT_SIGNING_KEY": pem.decode()}


def test_a_generated_secret_is_kept_and_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(env, "VAR_DIR", tmp_path)
    monkeypatch.delenv("SOME_TEST_SECRET", raising=False)
    first = env.secret("SOME_TEST_SECRET")
    assert env.secret("SOME_TEST_SECRET") == first
    assert (tmp_path / "secrets" / "some_test_secret").stat().st_mode & 0o777 == 0o600


def test_a_secret_can_come_from_a_file(tmp_path, monkeypatch):
    (tmp_path / "key").write_text("from-a-file\n")
    monkeypatch.delenv("SOME_TEST_SECRET", raising=False)
    monkeypatch.setenv("SOME_TEST_SECRET_FILE", str(tmp_path / "key"))
    assert env.secret("SOME_TEST_SECRET") == "from-a-file"


def test_flags_refuse_what_is_neither_true_nor_false(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ValueError, match="SOME_FLAG must be true or false"):
        env.flag("SOME_FLAG")


def test_encrypted_values_decrypt_under_any_configured_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    stored = crypto.encrypt("api-token")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(stored) == "api-token"
    rotated = crypto.reencrypt(stored)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "api-token"
    with pytest.raises(ValueError, match="rotate_encryption_key"):
        crypto.decrypt(stored)

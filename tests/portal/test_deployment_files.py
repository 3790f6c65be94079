"""Docker can't run here: the compose file and Procfile are checked against bin/sitter."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def sitter_roles() -> set[str]:
    script = (ROOT / "bin" / "sitter").read_text()
    return set(re.findall(r"^  (\w+)\)$", script, flags=re.MULTILINE))


def test_compose_runs_the_same_roles_as_make_run():
    services = compose()["services"]
    for role, command in procfile().items():
        if role == "simulator":
            continue  # development and tests only
        assert command == f"bin/sitter {role}"
        assert services[role]["command"] == [role]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["bin/sitter"]' in dockerfile


def test_every_role_compose_names_exists_in_the_entrypoint():
    services = compose()["services"]
    # The portal's own image, not the databases' or the optional object storage's.
    ours = [s for s in services.values() if s.get("image") == "sitter:latest"]
    assert {"web", "worker", "beat", "release"} <= {s["command"][0] for s in ours}
    assert {s["command"][0] for s in ours} <= sitter_roles()


def test_compose_has_databases_health_checks_and_named_volumes():
    document = compose()
    services = document["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    assert services["web"]["depends_on"]["release"] == {
        "condition": "service_completed_successfully"
    }
    for name in ("db", "redis", "worker"):
        assert "healthcheck" in services[name]
    assert "HEALTHCHECK" in (ROOT / "Dockerfile").read_text()
    assert {"db", "media"} <= set(document["volumes"])
    assert "media:/var/lib/sitter/media" in services["web"]["volumes"]


def test_the_image_runs_as_a_non_root_user():
    assert re.search(r"^USER sitter$", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)


def test_env_example_documents_every_variable_settings_read():
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    read = set()
    for path in ROOT.glob("*/settings.py"):
        read |= set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', path.read_text()))
    missing = read - documented
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_object_storage_is_an_optional_profile_with_a_private_bucket():
    services = compose()["services"]
    for name in ("minio", "minio-setup"):
        assert services[name]["profiles"] == ["object-storage"]  # not started by default
    assert services["minio"]["ports"] == ["127.0.0.1:9000:9000"]
    setup = " ".join(services["minio-setup"]["command"])
    assert "mc anonymous set none local/sitter-media" in setup

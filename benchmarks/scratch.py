"""A throwaway Django environment for benchmarks: its own var/ folder and database.

Call `django_ready()` before importing models. `DATABASE_URL` in the environment is honoured
(to measure on PostgreSQL); otherwise a fresh SQLite file is used.
"""

import os
import tempfile
from pathlib import Path


def django_ready(name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"sitter-bench-{name}-"))
    os.environ["SITTER_VAR_DIR"] = str(folder)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Production settings, less TLS, served to Django's test client.
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("SECURE_COOKIES", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    # Static files are not collected for a benchmark; the plain storage finds them in place.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    if os.environ["DATABASE_URL"].startswith("postgres"):
        from django.test.utils import setup_databases

        setup_databases(verbosity=0, interactive=False)  # a separate test_… database
    else:
        call_command("migrate", verbosity=0)
    return folder


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

"""The portal's WSGI application under gunicorn, telling in a response header how many bytes of
the request body it read (`X-Body-Read`), for tests/security/test_hostile_bodies.py.

Production settings, less what a test server can't have: collected static files (as in
tests/conftest.py).
"""

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from django.conf import settings

settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from portal.wsgi import application as portal  # noqa: E402


class CountedInput:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.count = 0

    def read(self, *args: Any) -> bytes:
        data = self.stream.read(*args)
        self.count += len(data)
        return bytes(data)

    def readline(self, *args: Any) -> bytes:
        line = self.stream.readline(*args)
        self.count += len(line)
        return bytes(line)

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def application(environ: dict[str, Any], start_response: Any) -> Any:
    counted = CountedInput(environ["wsgi.input"])
    environ["wsgi.input"] = counted

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("X-Body-Read", str(counted.count))], exc_info)

    return portal(environ, start)


def _print_traceback(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """Every exception a request raised, in the server's log (the 500 page says nothing)."""
    import traceback

    traceback.print_exc()


from django.core.signals import got_request_exception  # noqa: E402

got_request_exception.connect(_print_traceback)

"""The Celery application. Configuration lives in settings (CELERY_*), the beat schedule too."""

import os

from celery import Celery

import portal.broker  # noqa: F401  (registers the embedded broker's sitterfs:// transport)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_broker_folders(sender: Celery, **kwargs: object) -> None:
    """The file-system broker needs its folders before the first message."""
    options = sender.conf.broker_transport_options or {}
    for key in (
        "data_folder_in",
        "data_folder_out",
        "control_folder",
        "claimed_folder",
        "corrupt_folder",
    ):
        if folder := options.get(key):
            os.makedirs(folder, exist_ok=True)

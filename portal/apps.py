from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    name = "portal"

    def ready(self) -> None:
        from portal import checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(_sync_roles, sender=self)


def _sync_roles(**kwargs: Any) -> None:
    """After every migrate (and a test database's flush): the roles hold exactly the permissions
    `portal.roles` lists, so a release that changes a role needs no data migration of its own."""
    from portal import roles

    roles.ensure_roles(kwargs.get("apps"))

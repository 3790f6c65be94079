from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Evidence: visible to admins, never added, changed or deleted through the admin.
    The permission methods are what Django checks on every request, GET and POST alike."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

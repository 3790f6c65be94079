"""The admin site's name, and the portal's own models (read-only: processes write them)."""

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from portal.models import Heartbeat

admin.site.site_header = "Sitter administration"
admin.site.site_title = "Sitter admin"
admin.site.index_title = "Review and act"


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    """When each periodic job last proved it runs (what /readyz reads)."""

    list_display = ["name", "beat_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

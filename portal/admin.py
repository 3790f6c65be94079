"""The admin site's name, the portal's own models (read-only: processes write them), and staff
accounts as the administrator role may manage them."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Model
from django.http import HttpRequest
from django_otp.plugins.otp_totp import admin as plain_totp_admin

from portal.models import EncryptedTOTPDevice, Heartbeat

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


# django-otp's TOTP devices are not used (their secrets are plain text); the portal's are below.
admin.site.unregister(plain_totp_admin.TOTPDevice)


@admin.register(EncryptedTOTPDevice)
class AuthenticatorAppAdmin(admin.ModelAdmin):
    """Who has an authenticator app. Never its secret; deleting one lets its owner enrol anew
    (a lost phone). Staff enrol their own app on the two-step page."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username"]
    fields = readonly_fields = ("user", "name", "confirmed", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class StaffAccountAdmin(UserAdmin):
    """Accounts, for the administrator role: they give people roles (groups) and staff status,
    but only a superuser makes superusers, grants single permissions past the roles, or changes a
    superuser's account (its password above all)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if (
            obj is not None
            and getattr(obj, "is_superuser", False)
            and not request.user.is_superuser
        ):
            return False
        return super().has_change_permission(request, obj)


admin.site.unregister(User)
admin.site.register(User, StaffAccountAdmin)

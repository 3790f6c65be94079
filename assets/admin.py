from django.contrib import admin

from assets.models import Asset, AssetGroup


@admin.register(AssetGroup)
class AssetGroupAdmin(admin.ModelAdmin):
    list_display = ["upstream_id", "person", "account", "group_type", "created_at", "deleted_at"]
    list_filter = ["account", "group_type"]
    search_fields = ["upstream_id", "person__full_name"]
    date_hierarchy = "created_at"
    list_select_related = ["person", "account"]
    readonly_fields = [
        "upstream_id",
        "person",
        "account",
        "session",
        "group_type",
        "created_at",
        "deleted_at",
    ]

    def has_add_permission(self, request, obj=None):
        return False  # groups come from verification only


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "kind",
        "status",
        "group",
        "upstream_id",
        "error_code",
        "created_at",
    ]
    list_filter = ["status", "kind", "error_code"]
    search_fields = [
        "original_name",
        "upstream_id",
        "upstream_name",
        "sha256",
        "group__upstream_id",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["group"]
    readonly_fields = [field.name for field in Asset._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False  # assets arrive through the upload page, which checks them

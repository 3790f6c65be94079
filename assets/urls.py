from django.urls import path

from assets import views

staff_patterns = (
    [
        path("groups/<int:pk>/", views.group_detail, name="group"),
        path("groups/<int:pk>/assets/", views.group_assets, name="group_assets"),
        path("groups/<int:pk>/upload/", views.staff_upload, name="upload"),
        path("assets/<int:pk>/status/", views.asset_status, name="asset_status"),
        path("assets/<int:pk>/delete/", views.asset_delete, name="asset_delete"),
    ],
    "assets",
)

person_patterns = (
    [
        path("p/<slug:token>/upload/", views.person_upload, name="upload"),
        path(
            "p/<slug:token>/assets/<int:pk>/status/", views.person_asset_status, name="asset_status"
        ),
        path(
            "p/<slug:token>/assets/<int:pk>/dismiss/",
            views.person_asset_dismiss,
            name="asset_dismiss",
        ),
    ],
    "person_assets",
)

# The upstream downloads a file here when forwarding by URL; the signed token is the only key.
fetch_patterns = (
    [path("fetch/<str:signed>/", views.upstream_fetch, name="fetch")],
    "fetch",
)

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from assets import urls as asset_urls
from portal import metrics, two_factor, views
from verification.urls import person_patterns, staff_patterns

# The database briefly unreachable answers 503, not 500 (see the view).
handler500 = views.server_error

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("readyz", views.readyz, name="readyz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/code/", two_factor.verify, name="two_factor_verify"),
    path("account/two-step/", two_factor.setup, name="two_factor_setup"),
    path("metrics", metrics.metrics, name="metrics"),
    path(settings.ADMIN_PATH, admin.site.urls),
    path("api/v1/", include("integrations.api.urls")),
    path("", include(staff_patterns)),
    path("", include(person_patterns)),
    path("", include(asset_urls.staff_patterns)),
    path("", include(asset_urls.person_patterns)),
    path("", include(asset_urls.fetch_patterns)),
]

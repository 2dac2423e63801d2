from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotate import views as annotate_views
from core import views as core_views
from core.policy import policy_page

urlpatterns = [
    path("", annotate_views.home, name="home"),
    path("healthz", policy_page()(core_views.healthz), name="healthz"),
    path("accounts/login/", policy_page()(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", policy_page()(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("", include("annotate.urls")),
    path("", include("agreement.urls")),
    path("", include("training.urls")),
    path("", include("loop.urls")),
]

# Under /api/ every error is JSON, an unknown URL included (core/api/errors.py).
handler400 = "core.api.errors.error_400"
handler404 = "core.api.errors.error_404"
handler500 = "core.api.errors.error_500"

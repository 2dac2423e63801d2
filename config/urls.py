from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotate import views as annotate_views
from annotate.api.policy import policy_page
from ops import views as ops_views

urlpatterns = [
    path("", annotate_views.home, name="home"),
    path("healthz", policy_page()(ops_views.healthz), name="healthz"),
    path("accounts/login/", policy_page()(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", policy_page()(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("", include("annotate.urls")),
    path("", include("agreement.urls")),
    path("", include("training.urls")),
]

# Under /api/ every error is JSON, an unknown URL included (config/api.py).
handler400 = "config.api.error_400"
handler404 = "config.api.error_404"
handler500 = "config.api.error_500"

"""The REST API: ``/api/v1/...`` plus the OpenAPI schema and its offline viewers.

Each app contributes ``<app>/api/urls.py`` (a plain ``urlpatterns`` list); they share the
``api`` namespace, so names must be unique across apps (``reverse("api:snapshot-detail")``).
To add an app's endpoints, append its module to ``V1_MODULES``.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from annotate.api.permissions import IsAdmin, IsAuthenticated
from config.api import CursorPage
from core.api.views import AuditEventListView

V1_MODULES = [
    "annotate.api.urls",
    "exports.api.urls",
    "training.api_urls",
    "rewardmodel.api_urls",
    "agreement.api",
]

v1_patterns = [path("", include(module)) for module in V1_MODULES]
# core imports no feature app: its audit view gets the project's admin rule and pagination here.
v1_patterns.append(
    path(
        "audit-events/",
        AuditEventListView.as_view(
            permission_classes=[IsAuthenticated, IsAdmin], pagination_class=CursorPage
        ),
        name="audit-event-list",
    )
)

urlpatterns = [
    path("v1/", include((v1_patterns, "api"), namespace="api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

"""The REST API: ``/api/v1/...`` plus the OpenAPI schema and its offline viewers.

Each app contributes ``<app>/api/urls.py`` (a plain ``urlpatterns`` list); they share the
``api`` namespace, so names must be unique across apps (``reverse("api:snapshot-detail")``).
To add an app's endpoints, append its module to ``V1_MODULES``.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer

from core.api.pagination import CursorPage
from core.api.permissions import PolicyPermission
from core.api.views import AuditEventListView

V1_MODULES = [
    "annotate.api.urls",
    "exports.api.urls",
    "training.api.urls",
    "rewardmodel.api.urls",
    "agreement.api.urls",
    "webhooks.api.urls",
    "loop.api.urls",
]

v1_patterns = [path("", include(module)) for module in V1_MODULES]
# core imports no feature app: its audit view gets the permission table (core.policy:
# admins) and pagination here.
v1_patterns.append(
    path(
        "audit-events/",
        AuditEventListView.as_view(
            permission_classes=[PolicyPermission], pagination_class=CursorPage
        ),
        name="audit-event-list",
    )
)


class JsonErrors:
    """An error from the schema or a viewer (401 before signing in) in the API's JSON shape,
    not rendered as a schema document or an HTML page."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class SchemaView(JsonErrors, SpectacularAPIView):
    pass


class SwaggerView(JsonErrors, SpectacularSwaggerView):
    pass


class RedocView(JsonErrors, SpectacularRedocView):
    pass


urlpatterns = [
    path("v1/", include((v1_patterns, "api"), namespace="api")),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

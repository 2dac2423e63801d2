"""``GET /api/v1/audit-events/``: the audit log for admins.

``core`` imports no feature app, so the project's admin permission and cursor pagination are
given to this view where the URL is wired (config/api_urls.py); without them it refuses
everyone.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission

from core.api.serializers import AuditEventFilterSerializer, AuditEventSerializer
from core.selectors import audit_event_list

# The error component the project's API documents every error with (core/api/errors.py).
ERROR = {"$ref": "#/components/schemas/Error"}


class DenyAll(BasePermission):
    def has_permission(self, request, view) -> bool:
        return False


class AuditEventListView(ListAPIView):
    """Audit events, newest first (admins only), cursor-paginated and filterable."""

    permission_classes = [DenyAll]  # replaced by the wiring, see the module docstring
    serializer_class = AuditEventSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return audit_event_list().none()
        filters = AuditEventFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return audit_event_list(**filters.validated_data)

    @extend_schema(
        parameters=[AuditEventFilterSerializer],
        responses={
            200: AuditEventSerializer(many=True),
            400: OpenApiResponse(ERROR, description="A filter is invalid."),
            401: OpenApiResponse(ERROR, description="Not authenticated."),
            403: OpenApiResponse(ERROR, description="Not an admin."),
        },
        tags=["audit"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

"""REST endpoints of the agreement app, mounted under /api/v1/ (see config/api_urls.py)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from agreement.selectors import project_report_get, report_anonymise
from agreement.services import project_agreement_schedule
from core.api.errors import error_responses
from core.api.permissions import ProjectScopedMixin, has_any_role
from core.roles import Roles


class ProjectAgreementView(ProjectScopedMixin, APIView):
    """The project's agreement report: the stored result of the last full recompute (``meta``
    says when, and whether judgements changed since), or a fresh one if none is stored.

    Reviewers and admins see annotator names; ML engineers get stable pseudonyms.
    """

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403, 404)},
        tags=["agreement"],
    )
    def get(self, request, slug):
        report = project_report_get(self.project)
        if not has_any_role(request.user, (Roles.REVIEWER,)):
            report = report_anonymise(report)
        return Response(report)


class ProjectAgreementRecomputeView(ProjectScopedMixin, APIView):
    """Queue a full recompute of consensus, annotator weights and the report."""

    @extend_schema(
        request=None,
        responses={202: OpenApiTypes.OBJECT, **error_responses(401, 403, 404, 503)},
        tags=["agreement"],
    )
    def post(self, request, slug):
        project_agreement_schedule(project_id=self.project.pk, require_broker=True)
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path(
        "projects/<slug:slug>/agreement/",
        ProjectAgreementView.as_view(),
        name="project-agreement",
    ),
    path(
        "projects/<slug:slug>/agreement/recompute/",
        ProjectAgreementRecomputeView.as_view(),
        name="project-agreement-recompute",
    ),
]

"""/api/v1/projects/<slug>/agreement/ and prompt adjudication: parse, call a service, render."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from agreement.api.serializers import AdjudicationInputSerializer, AdjudicationSerializer
from agreement.selectors import machine_agreement_rows, project_report_get, report_anonymise
from agreement.services import project_agreement_schedule, prompt_adjudicate
from annotate.models import Prompt
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
        report = project_report_get(project=self.project)
        if not has_any_role(request.user, (Roles.REVIEWER,)):
            report = report_anonymise(report=report)
        # machines are no people: named for everyone, computed fresh (their own few rows)
        return Response(
            {**report, "machine_annotators": machine_agreement_rows(project=self.project)}
        )


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


class PromptAdjudicateView(ProjectScopedMixin, APIView):
    """A reviewer's ranking of a prompt; it overrides the computed consensus (the review page
    posts here with the session and its CSRF token)."""

    serializer_class = AdjudicationInputSerializer

    @extend_schema(
        request=AdjudicationInputSerializer,
        responses={201: AdjudicationSerializer, **error_responses(400, 401, 403, 404)},
        tags=["agreement"],
    )
    def post(self, request, slug, prompt_id):
        prompt = get_object_or_404(Prompt, pk=prompt_id, project=self.project)
        data = AdjudicationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        adjudication = prompt_adjudicate(
            prompt=prompt, reviewer=request.user,
            **{k: v for k, v in data.validated_data.items() if v is not None},
        )  # fmt: skip
        return Response(AdjudicationSerializer(adjudication).data, status=status.HTTP_201_CREATED)

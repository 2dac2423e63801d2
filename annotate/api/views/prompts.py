"""Prompts (list, filter, detail, bulk import) and annotations for reviewers and admins."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from annotate.api import serializers as s
from annotate.api.views.tasks import JudgementPatchSerializer, annotation_patch
from annotate.models import Annotation, ImportJob
from annotate.selectors import (
    annotation_list_for_project,
    import_jobs_for_project,
    prompt_list_for_project,
)
from annotate.services.import_jobs import prompts_import_upload
from core.api.errors import error_responses
from core.api.pagination import CursorPage, OldestFirstCursorPage
from core.api.permissions import ProjectScopedMixin


def _filters(serializer_class, request) -> dict:
    data = serializer_class(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data


class ProjectScopedList(ProjectScopedMixin, ListAPIView):
    """A project's list, filtered by ``selector(project=..., **filters)`` (the filters as the
    ``filter_serializer`` validated them from the query string)."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return self.serializer_class.Meta.model.objects.none()
        filters = _filters(self.filter_serializer, self.request)
        return self.selector(project=self.project, **filters)


class PromptListView(ProjectScopedList):
    serializer_class = s.PromptSerializer
    filter_serializer = s.PromptFilterSerializer
    selector = staticmethod(prompt_list_for_project)
    pagination_class = OldestFirstCursorPage

    @extend_schema(
        parameters=[s.PromptFilterSerializer],
        responses={200: s.PromptSerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=["prompts"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PromptDetailView(ProjectScopedMixin, GenericAPIView):
    serializer_class = s.PromptSerializer

    @extend_schema(responses={200: s.PromptSerializer, **error_responses(401, 403, 404)},
                   tags=["prompts"])  # fmt: skip
    def get(self, request, slug, pk):
        prompt = get_object_or_404(prompt_list_for_project(project=self.project), pk=pk)
        return Response(s.PromptSerializer(prompt).data)


class PromptImportView(ProjectScopedMixin, GenericAPIView):
    """Bulk import in any import format. All or nothing: a file with a bad line imports nothing
    and the answer names every bad line (up to 20).

    A file of at most RANKWISE_IMPORT_SYNC_MAX_BYTES (1 MiB by default) once decompressed is
    imported now (201 with the counts); a larger one becomes an import job run by the worker
    (202 with the job; poll its ``url``)."""

    parser_classes = [MultiPartParser, FormParser]
    serializer_class = s.PromptImportSerializer

    @extend_schema(
        request={"multipart/form-data": s.PromptImportSerializer},
        responses={
            201: s.ImportResultSerializer,
            202: OpenApiResponse(s.ImportJobSerializer, description="Queued; poll the job."),
            400: OpenApiResponse(s.ImportErrorSerializer, description="Bad lines; nothing saved."),
            **error_responses(401, 403, 404, 503),
        },
        tags=["prompts"],
    )
    def post(self, request, slug):
        data = s.PromptImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        outcome = prompts_import_upload(
            project=self.project,
            upload=values["file"],
            fmt=values["format"],
            annotator=values.get("annotator") or None,
            actor=request.user,
        )
        if outcome.job is not None:
            body = s.ImportJobSerializer(outcome.job).data
            return Response(
                body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]}
            )
        return Response(outcome.result.as_dict(), status=status.HTTP_201_CREATED)


class ImportJobListView(ProjectScopedList):
    """The project's import jobs (uploads too large to import in the request), newest first."""

    serializer_class = s.ImportJobSerializer
    pagination_class = CursorPage

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        return import_jobs_for_project(project=self.project)

    @extend_schema(
        responses={200: s.ImportJobSerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=["prompts"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ImportJobDetailView(ProjectScopedMixin, GenericAPIView):
    """One import job: status, lines read, errors, prompts created; poll until it finishes."""

    serializer_class = s.ImportJobSerializer

    @extend_schema(responses={200: s.ImportJobSerializer, **error_responses(401, 403, 404)},
                   tags=["prompts"])  # fmt: skip
    def get(self, request, slug, pk):
        job = get_object_or_404(import_jobs_for_project(project=self.project), pk=pk)
        return Response(s.ImportJobSerializer(job).data)


class AnnotationListView(ProjectScopedList):
    serializer_class = s.AnnotationSerializer
    filter_serializer = s.AnnotationFilterSerializer
    selector = staticmethod(annotation_list_for_project)
    pagination_class = CursorPage

    @extend_schema(
        parameters=[s.AnnotationFilterSerializer],
        responses={200: s.AnnotationSerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=["annotations"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AnnotationDetailView(ProjectScopedMixin, GenericAPIView):
    serializer_class = s.AnnotationDetailSerializer

    def _annotation(self, pk):
        return get_object_or_404(
            Annotation.objects.select_related("prompt", "annotator").prefetch_related(
                "revisions__editor"
            ),
            pk=pk,
            prompt__project=self.project,
        )

    @extend_schema(responses={200: s.AnnotationDetailSerializer, **error_responses(401, 403, 404)},
                   tags=["annotations"])  # fmt: skip
    def get(self, request, slug, pk):
        return Response(s.AnnotationDetailSerializer(self._annotation(pk)).data)

    @extend_schema(
        request=JudgementPatchSerializer,
        responses={200: s.AnnotationSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["annotations"],
        description="A reviewer's correction; the previous state is kept as a revision.",
    )
    def patch(self, request, slug, pk):
        return annotation_patch(request, self._annotation(pk))

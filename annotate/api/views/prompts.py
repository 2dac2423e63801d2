"""Prompts (list, filter, detail, bulk import) and annotations for reviewers and admins."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, Subquery, TextField
from django.db.models.functions import Cast, Coalesce
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from annotate.api import serializers as s
from annotate.api.views.tasks import JudgementPatchSerializer, annotation_patch
from annotate.models import Annotation, ImportJob, Prompt
from annotate.selectors import import_jobs_for_project
from annotate.services.import_jobs import prompts_import_upload
from core.api.errors import error_responses
from core.api.pagination import CursorPage, OldestFirstCursorPage
from core.api.permissions import ProjectScopedMixin


def _filters(serializer_class, request) -> dict:
    data = serializer_class(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data


class ProjectScopedList(ProjectScopedMixin, ListAPIView):
    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return self.serializer_class.Meta.model.objects.none()
        return self.filtered(self.project, _filters(self.filter_serializer, self.request))


def _prompt_queryset(project):
    ranked = Annotation.objects.filter(prompt=OuterRef("pk"), skipped=False)
    count = ranked.order_by().values("prompt").annotate(n=Count("*")).values("n")
    return (
        Prompt.objects.filter(project=project)
        .annotate(annotation_count=Coalesce(Subquery(count), 0))
        .prefetch_related("completions")
    )


class PromptListView(ProjectScopedList):
    serializer_class = s.PromptSerializer
    filter_serializer = s.PromptFilterSerializer
    pagination_class = OldestFirstCursorPage

    def filtered(self, project, f):
        prompts = _prompt_queryset(project)
        if f.get("external_id"):
            prompts = prompts.filter(external_id=f["external_id"])
        if f.get("is_gold") is not None:
            prompts = prompts.filter(is_gold=f["is_gold"])
        if f.get("annotated") is not None:
            ranked = Annotation.objects.filter(prompt=OuterRef("pk"), skipped=False)
            prompts = prompts.filter(Exists(ranked) if f["annotated"] else ~Exists(ranked))
        if f.get("created_after"):
            prompts = prompts.filter(created_at__gte=f["created_after"])
        if f.get("created_before"):
            prompts = prompts.filter(created_at__lt=f["created_before"])
        return prompts

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
        prompt = get_object_or_404(_prompt_queryset(self.project), pk=pk)
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


def flag_q(key: str) -> Q:
    """Annotations whose flags {completion: [keys]} list ``key`` for any completion.

    Matched on the JSON text, where a flag is always followed by ',' or ']' and a completion
    id (an object key) by ':'; flag keys are [a-z0-9_], so no escaping can interfere.
    """
    return Q(flags_text__contains=f'"{key}",') | Q(flags_text__contains=f'"{key}"]')


class AnnotationListView(ProjectScopedList):
    serializer_class = s.AnnotationSerializer
    filter_serializer = s.AnnotationFilterSerializer
    pagination_class = CursorPage

    def filtered(self, project, f):
        annotations = Annotation.objects.filter(prompt__project=project).select_related(
            "prompt", "annotator"
        )
        if f.get("annotator"):
            annotations = annotations.filter(annotator__username=f["annotator"])
        if f.get("prompt"):
            annotations = annotations.filter(prompt_id=f["prompt"])
        if f.get("prompt_external_id"):
            annotations = annotations.filter(prompt__external_id=f["prompt_external_id"])
        if f.get("skipped") is not None:
            annotations = annotations.filter(skipped=f["skipped"])
        if f.get("source"):
            annotations = annotations.filter(source=f["source"])
        if f.get("flag"):
            annotations = annotations.annotate(flags_text=Cast("flags", TextField())).filter(
                flag_q(f["flag"])
            )
        if f.get("created_after"):
            annotations = annotations.filter(created_at__gte=f["created_after"])
        if f.get("created_before"):
            annotations = annotations.filter(created_at__lt=f["created_before"])
        return annotations

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

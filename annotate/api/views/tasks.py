"""The annotator flow for custom front-ends: next task, submit, skip, my annotations, progress.

Thin wrappers over the work queue (``annotate.services.queue``) and the judgement services
(``annotate.services.annotations``): they parse, call one service and render. A rule the queue
refuses comes back as 409 with the queue's code (``already_annotated``, ``overlap_full``,
``not_member``, ...); a bad judgement as 400 naming the field.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from annotate.api import serializers as s
from annotate.api.task_json import annotation_json, task_json
from annotate.constants import (
    MAX_COMMENT_LENGTH,
    MAX_RATIONALE_LENGTH,
    MAX_SKIP_REASON_LENGTH,
    MAX_TIME_MS,
    TIE_KINDS,
)
from annotate.models import Annotation, Prompt
from annotate.rendering import stored_messages_html, stored_text_html
from annotate.selectors import annotation_list_for_annotator, queue_progress
from annotate.services.annotations import annotation_skip, annotation_update, ranking_submit
from annotate.services.queue import prompt_completions, prompt_next_for_annotator
from annotate.services.reservations import claim_extend, prompt_peek_for_annotator
from core.api.errors import ApiError, error_responses
from core.api.pagination import CursorPage
from core.api.permissions import ProjectScopedMixin
from core.db import model_get


class TaskCompletionSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField(help_text="The letter the annotator is shown: A, B, ...")
    text = serializers.CharField()
    html = serializers.CharField(help_text="text as sanitised HTML (markdown rendered)")


class TaskSerializer(serializers.Serializer):
    """A claimed prompt as the annotator sees it: outputs in their shown order, no model names."""

    prompt_id = serializers.IntegerField(source="prompt.pk")
    external_id = serializers.CharField(source="prompt.external_id")
    text = serializers.CharField(source="prompt.text")
    messages = s.MessagesField(source="prompt.messages", allow_null=True)
    html = serializers.SerializerMethodField(help_text="text as sanitised HTML")
    messages_html = serializers.SerializerMethodField(
        help_text="each message's content as sanitised HTML, in order; null for a text prompt"
    )
    completions = serializers.SerializerMethodField()
    shown_order = serializers.ListField(child=serializers.CharField())
    # null in a preview (tasks/peek/): nothing is reserved yet
    claimed_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    timeout_minutes = serializers.SerializerMethodField(
        help_text="How long a claim (or an extension) reserves the task."
    )

    # Rendered once when stored (annotate.rendering); only rows stored before that render here.
    def get_html(self, claim) -> str:
        return stored_text_html(claim.prompt.text, claim.prompt.html)

    def get_messages_html(self, claim) -> list[str] | None:
        return stored_messages_html(claim.prompt.messages, claim.prompt.messages_html)

    def get_timeout_minutes(self, claim) -> int | None:
        project = self.context.get("project")
        return project.claim_timeout_minutes if project is not None else None

    def get_completions(self, claim) -> TaskCompletionSerializer(many=True):
        stored = {c.external_id: c for c in prompt_completions(prompt=claim.prompt)}
        order = [cid for cid in claim.shown_order or [] if cid in stored] or list(stored)
        return [
            {"id": cid, "label": chr(ord("A") + i), "text": stored[cid].text,
             "html": stored_text_html(stored[cid].text, stored[cid].html)}
            for i, cid in enumerate(order)
        ]  # fmt: skip


class SubmitResultSerializer(s.AnnotationSerializer):
    """The stored judgement; with ``?next=1``, also the annotator's next task."""

    next = TaskSerializer(
        required=False, allow_null=True,
        help_text="Only with ?next=1: your next task (claimed), null when none is left.",
    )  # fmt: skip

    class Meta(s.AnnotationSerializer.Meta):
        fields = [*s.AnnotationSerializer.Meta.fields, "next"]
        read_only_fields = fields


NEXT_PARAMETERS = [
    OpenApiParameter(
        "next", bool, description="Also claim and return your next task (one round trip)."
    ),
    OpenApiParameter(
        "prefer", int,
        description="With next: the prompt id GET tasks/peek/ previewed; it is claimed if still "
        "open to you, with the letters the preview showed (else another task comes).",
    ),
]  # fmt: skip


def _prefer(request) -> int | None:
    value = request.query_params.get("prefer", "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ApiError("invalid", "prefer: must be a prompt id", fields={"prefer": "not an id"})
    return int(value)


def with_next(request, project, data: dict) -> dict:
    """``data`` plus the next task when the client asked for it (``?next=1``)."""
    if request.query_params.get("next", "").lower() not in {"1", "true", "yes"}:
        return data
    claim = prompt_next_for_annotator(project=project, user=request.user, prefer=_prefer(request))
    data["next"] = task_json(claim, project) if claim else None
    return data


class JudgementInputSerializer(serializers.Serializer):
    """Types only; the rules (ids, ties, scale, flags) are checked by the judgement service."""

    ranking = s.RankingField(help_text="Tie groups of completion ids, best first.")
    ratings = s.RatingsField(required=False)
    flags = s.FlagsField(required=False)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT_LENGTH)
    time_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_TIME_MS
    )
    shown_order = serializers.ListField(child=serializers.CharField(), required=False)
    strength = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=100,
        help_text="Pairwise projects: how much better the winner is, 1 = the scale's weakest "
        "level; 0 or absent for a tie.",
    )  # fmt: skip
    tie_kind = serializers.ChoiceField(
        choices=["", *TIE_KINDS], required=False, help_text="Pairwise ties: both good or both bad."
    )
    gaps = s.GapsField(required=False)
    dimensions = s.DimensionChoicesField(required=False)
    rationale = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_RATIONALE_LENGTH
    )


class JudgementPatchSerializer(JudgementInputSerializer):
    ranking = s.RankingField(required=False)
    skipped = serializers.BooleanField(required=False)
    skip_reason = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_SKIP_REASON_LENGTH
    )


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=MAX_SKIP_REASON_LENGTH, help_text="Why you skip (required)."
    )
    time_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_TIME_MS
    )


class QueueProgressSerializer(serializers.Serializer):
    done_today = serializers.IntegerField()
    done_in_project = serializers.IntegerField()
    skipped_in_project = serializers.IntegerField()
    remaining_in_queue = serializers.IntegerField()


class AnnotatorView(ProjectScopedMixin, GenericAPIView):
    def prompt(self) -> Prompt:
        # One plain query on the hot path: the ORM's compilation costs more than the lookup.
        # An id past any integer column is no prompt (the ORM's lookups say so too).
        prompt_id = self.kwargs["prompt_id"]
        prompt = None
        if 0 < prompt_id < 2**63:
            prompt = model_get(
                Prompt, "t.id = %s AND t.project_id = %s", [prompt_id, self.project.pk]
            )
        if prompt is None:
            raise Http404("No Prompt matches the given query.")
        return prompt


class NextTaskView(AnnotatorView):
    serializer_class = TaskSerializer

    @extend_schema(
        request=None,
        responses={
            200: TaskSerializer,
            204: OpenApiResponse(description="Nothing left for you in this project."),
            **error_responses(401, 403, 404, 409),
        },
        tags=["annotator"],
        description="Claims your next prompt (or returns the one you hold) until the "
        "project's claim timeout.",
    )
    def post(self, request, slug):
        claim = prompt_next_for_annotator(project=self.project, user=request.user)
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(task_json(claim, self.project))


class PeekView(AnnotatorView):
    serializer_class = TaskSerializer

    @extend_schema(
        responses={
            200: TaskSerializer,
            204: OpenApiResponse(description="Nothing else is open for you."),
            **error_responses(401, 403, 404, 409),
        },
        tags=["annotator"],
        description="A preview of your likely next task, not claimed (no reservation: "
        "`claimed_at` and `expires_at` are null). Submit the current one with "
        "`?next=1&prefer=<its prompt_id>` to claim it, with the letters shown here.",
    )
    def get(self, request, slug):
        # The candidate query takes row locks (SKIP LOCKED) like a claim: never a cached GET.
        claim = prompt_peek_for_annotator(project=self.project, user=request.user)
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(task_json(claim, self.project))


class ExtendView(AnnotatorView):
    serializer_class = TaskSerializer

    @extend_schema(
        request=None,
        responses={200: TaskSerializer, **error_responses(401, 403, 404, 409)},
        tags=["annotator"],
        description="Extend your reservation of the task by the project's claim timeout from "
        "now. A reservation that ran out is taken again if the prompt still has room; "
        "otherwise 409 `claim_lost`.",
    )
    def post(self, request, slug, prompt_id):
        prompt = self.prompt()  # 404 for a prompt not in the project
        claim = claim_extend(project=self.project, user=request.user, prompt_id=prompt.pk)
        return Response(task_json(claim, self.project))


# Submit and skip: parse the body, let ``answer`` call the service, reply 201 with the
# annotation (and the next task on ``?next=1``). No docstring: the schema shows the base's.
class AnswerView(AnnotatorView):
    def post(self, request, slug, prompt_id):
        data = self.serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        annotation = self.answer(request, data.validated_data)
        body = with_next(request, self.project, annotation_json(annotation))
        return Response(body, status=status.HTTP_201_CREATED)


ANSWER_SCHEMA = {
    "parameters": NEXT_PARAMETERS,
    "responses": {201: SubmitResultSerializer, **error_responses(400, 401, 403, 404, 409)},
    "tags": ["annotator"],
}


@extend_schema_view(post=extend_schema(request=JudgementInputSerializer, **ANSWER_SCHEMA))
class SubmitView(AnswerView):
    serializer_class = JudgementInputSerializer

    def answer(self, request, data):
        return ranking_submit(
            project=self.project, prompt=self.prompt(), user=request.user, data=data,
            source=Annotation.Source.API,
        )  # fmt: skip


@extend_schema_view(post=extend_schema(request=SkipSerializer, **ANSWER_SCHEMA))
class SkipView(AnswerView):
    serializer_class = SkipSerializer

    def answer(self, request, data):
        return annotation_skip(
            project=self.project, prompt=self.prompt(), user=request.user,
            reason=data["reason"], time_ms=data.get("time_ms"), source=Annotation.Source.API,
        )  # fmt: skip


class MyAnnotationListView(ProjectScopedMixin, ListAPIView):
    serializer_class = s.AnnotationSerializer
    pagination_class = CursorPage

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Annotation.objects.none()
        return annotation_list_for_annotator(user=self.request.user, project=self.project)

    @extend_schema(
        responses={200: s.AnnotationSerializer(many=True), **error_responses(401, 403, 404)},
        tags=["annotator"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def annotation_patch(request, annotation) -> Response:
    data = JudgementPatchSerializer(data=request.data, partial=True)
    data.is_valid(raise_exception=True)
    annotation = annotation_update(
        annotation=annotation, user=request.user, data=data.validated_data
    )
    return Response(s.AnnotationSerializer(annotation).data)


class MyAnnotationView(AnnotatorView):
    serializer_class = JudgementPatchSerializer

    @extend_schema(
        request=JudgementPatchSerializer,
        responses={200: s.AnnotationSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["annotator"],
        description="Change your annotation; fields left out keep their value.",
    )
    def patch(self, request, slug, pk):
        annotation = get_object_or_404(
            annotation_list_for_annotator(user=request.user, project=self.project), pk=pk
        )
        return annotation_patch(request, annotation)


class ProgressView(AnnotatorView):
    serializer_class = QueueProgressSerializer

    @extend_schema(responses={200: QueueProgressSerializer, **error_responses(401, 403, 404)},
                   tags=["annotator"])  # fmt: skip
    def get(self, request, slug):
        return Response(queue_progress(project=self.project, user=request.user))

"""/api/v1/training-runs/, /api/v1/policies/, /api/v1/generations/: parse, call a service,
render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError, error_responses
from core.api.pagination import CursorPage
from rewardmodel.api.files import ModelFileDownloadView, ModelFileListView
from training import selectors, services
from training.api.serializers import (
    GenerationJobCreateSerializer,
    GenerationJobSerializer,
    PolicySerializer,
    TrainingMetricSerializer,
    TrainingMetricsResponseSerializer,
    TrainingRunCreateSerializer,
    TrainingRunFilterSerializer,
    TrainingRunListSerializer,
    TrainingRunSerializer,
    TrainingSampleSerializer,
)
from training.models import TrainingRun

TAG = ["training"]


class TrainingView(APIView):
    """Training spends GPU time: ML engineers (and admins) only, for reading too (the rules
    are core.policy's); each object is found among the user's projects' only."""


def _not_found(what: str, pk: int) -> ApiError:
    # The same answer for an id that does not exist and one of another project.
    return ApiError("not_found", f"No {what} {pk} in your projects.", status_code=404)


def _run_or_404(request, pk: int) -> TrainingRun:
    run = selectors.training_run_get(user=request.user, pk=pk)
    if run is None:
        raise _not_found("training run", pk)
    return run


def _conflict(exc: Exception) -> ApiError:
    return ApiError("conflict", str(exc), status_code=status.HTTP_409_CONFLICT)


# GET lists (paginated); POST validates create_serializer, queues the job through start() and
# answers 202 with it as detail_serializer renders it, read back through detail_get() so the
# answer matches what the detail endpoint will show. A comment, not a docstring: the schema
# would show a docstring as both endpoints' description.
class _ListStartView(TrainingView, ListAPIView):
    pagination_class = CursorPage
    create_serializer: type
    detail_serializer: type

    def start(self, request, v: dict):
        raise NotImplementedError

    def detail_get(self, request, pk: int):
        raise NotImplementedError

    def post(self, request):
        data = self.create_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        obj = self.start(request, data.validated_data)
        obj = self.detail_get(request, obj.pk)
        return Response(self.detail_serializer(obj).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    get=extend_schema(
        tags=TAG,
        summary="List training runs, newest first",
        parameters=[TrainingRunFilterSerializer],
        responses={200: TrainingRunListSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    post=extend_schema(
        tags=TAG,
        summary="Start a reward-model or PPO run",
        description=(
            "Validates the trainer config (unknown keys are 400 naming `config.<key>`), the "
            "snapshot / reward model / prompt set and the base model, then queues the run on "
            "the GPU queue. Answers 202 with the queued run; poll its detail for progress."
        ),
        request=TrainingRunCreateSerializer,
        responses={202: TrainingRunSerializer, **error_responses(400, 401, 403, 503)},
    ),
)
class TrainingRunListView(_ListStartView):
    serializer_class = TrainingRunListSerializer
    create_serializer = TrainingRunCreateSerializer
    detail_serializer = TrainingRunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return TrainingRun.objects.none()
        f = TrainingRunFilterSerializer(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        return selectors.training_run_list(
            user=self.request.user,
            kind=f.validated_data.get("kind"),
            status=f.validated_data.get("status"),
            project=f.validated_data.get("project"),
        )

    def start(self, request, v: dict):
        return services.training_run_start(
            user=request.user,
            kind=v["kind"],
            name=v["name"],
            base_model=v["base_model"],
            config=v["config"],
            snapshot_id=v["snapshot"],
            reward_model_id=v["reward_model"],
            prompt_project_id=v["prompt_project"],
        )

    def detail_get(self, request, pk: int):
        return selectors.training_run_get(user=request.user, pk=pk)


# GET one object found through detail_get(), or the same 404 for a missing id and one of
# another project (a comment: a docstring would become the endpoint's description).
class _DetailView(TrainingView):
    what: str
    detail_serializer: type

    def detail_get(self, request, pk: int):
        raise NotImplementedError

    def get(self, request, pk: int):
        obj = self.detail_get(request, pk)
        if obj is None:
            raise _not_found(self.what, pk)
        return Response(self.detail_serializer(obj).data)


@extend_schema_view(
    get=extend_schema(
        tags=TAG,
        summary="One run: status, progress, config, log tail, result, card",
        responses={200: TrainingRunSerializer, **error_responses(401, 403, 404)},
    )
)
class TrainingRunDetailView(_DetailView):
    what = "training run"
    detail_serializer = TrainingRunSerializer

    def detail_get(self, request, pk: int):
        return selectors.training_run_get(user=request.user, pk=pk)


class TrainingRunMetricsView(TrainingView):
    @extend_schema(
        tags=TAG,
        summary="The run's metric time series (one point per progress report)",
        parameters=[
            OpenApiParameter(
                "after", int, description="Only points with a larger id (for polling)."
            )
        ],
        responses={200: TrainingMetricsResponseSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, pk: int):
        run = _run_or_404(request, pk)
        after = request.query_params.get("after", "0")
        if not after.isdigit():
            raise ApiError("invalid", "after: must be a point id", fields={"after": "not an id"})
        points = selectors.training_run_metric_points(run=run, after=int(after))
        return Response(
            {
                "run": run.pk,
                "status": run.status,
                "progress": TrainingRunSerializer().get_progress(run),
                "points": TrainingMetricSerializer(points, many=True).data,
            }
        )


class TrainingRunSamplesView(TrainingView):
    @extend_schema(
        tags=TAG,
        summary="PPO: responses to the fixed evaluation prompts, at the start and each checkpoint",
        responses={200: TrainingSampleSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        run = _run_or_404(request, pk)
        return Response(
            TrainingSampleSerializer(selectors.training_run_samples(run=run), many=True).data
        )


class TrainingRunCancelView(TrainingView):
    @extend_schema(
        tags=TAG,
        summary="Cancel a run",
        description="A queued run is cancelled at once; a running one stops before its next "
        "step. 409 if it has already finished.",
        request=None,
        responses={202: TrainingRunSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        run = _run_or_404(request, pk)
        try:
            run = services.training_run_cancel(run=run, user=request.user)
        except services.RunStateError as exc:
            raise _conflict(exc) from exc
        return Response(
            TrainingRunSerializer(selectors.training_run_get(user=request.user, pk=run.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class TrainingRunResumeView(TrainingView):
    @extend_schema(
        tags=TAG,
        summary="Resume a failed or cancelled run from its last checkpoint",
        request=None,
        responses={202: TrainingRunSerializer, **error_responses(401, 403, 404, 409, 503)},
    )
    def post(self, request, pk: int):
        run = _run_or_404(request, pk)
        try:
            run = services.training_run_resume(run=run, user=request.user)
        except services.RunStateError as exc:
            raise _conflict(exc) from exc
        return Response(
            TrainingRunSerializer(selectors.training_run_get(user=request.user, pk=run.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class PolicyListView(TrainingView, ListAPIView):
    serializer_class = PolicySerializer
    pagination_class = CursorPage

    def get_queryset(self):
        return selectors.policy_list(user=self.request.user)

    @extend_schema(
        tags=TAG,
        summary="Registered policies (PPO outputs)",
        responses={200: PolicySerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema_view(
    get=extend_schema(
        tags=TAG,
        summary="One registered policy",
        responses={200: PolicySerializer, **error_responses(401, 403, 404)},
    )
)
class PolicyDetailView(_DetailView):
    what = "policy"
    detail_serializer = PolicySerializer

    def detail_get(self, request, pk: int):
        return selectors.policy_get(user=request.user, pk=pk)


@extend_schema_view(
    get=extend_schema(
        tags=TAG,
        summary="Generate-for-ranking jobs",
        responses={200: GenerationJobSerializer(many=True), **error_responses(401, 403)},
    ),
    post=extend_schema(
        tags=TAG,
        summary="Generate K completions per new prompt and import them as ranking tasks",
        description=(
            "The policy (a registered policy, a PPO run's policy, or a local model directory) "
            "samples K completions for each listed prompt on the GPU queue; the result is "
            "imported into the project in the rankwise format, with the policy's name as the "
            "completions' model. 202 with the queued job."
        ),
        request=GenerationJobCreateSerializer,
        responses={202: GenerationJobSerializer, **error_responses(400, 401, 403, 503)},
    ),
)
class GenerationJobListView(_ListStartView):
    serializer_class = GenerationJobSerializer
    create_serializer = GenerationJobCreateSerializer
    detail_serializer = GenerationJobSerializer

    def get_queryset(self):
        return selectors.generation_job_list(user=self.request.user)

    def start(self, request, v: dict):
        return services.generation_job_start(
            user=request.user,
            project_id=v["project"],
            prompts=v["prompts"],
            k=v["k"],
            policy_id=v["policy"],
            training_run_id=v["training_run"],
            model_path=v["model_path"],
            model_name=v["model_name"],
            max_new_tokens=v["max_new_tokens"],
            temperature=v["temperature"],
            top_p=v["top_p"],
            seed=v["seed"],
        )

    def detail_get(self, request, pk: int):
        return selectors.generation_job_get(user=request.user, pk=pk)


@extend_schema_view(
    get=extend_schema(
        tags=TAG,
        summary="One generate-for-ranking job",
        responses={200: GenerationJobSerializer, **error_responses(401, 403, 404)},
    )
)
class GenerationJobDetailView(_DetailView):
    what = "generation job"
    detail_serializer = GenerationJobSerializer

    def detail_get(self, request, pk: int):
        return selectors.generation_job_get(user=request.user, pk=pk)


class PolicyFileListView(ModelFileListView):
    what = "policy"

    def model_get(self, request, pk: int):
        return selectors.policy_get(user=request.user, pk=pk)


class PolicyFileDownloadView(ModelFileDownloadView):
    what = "policy"

    def model_get(self, request, pk: int):
        return selectors.policy_get(user=request.user, pk=pk)

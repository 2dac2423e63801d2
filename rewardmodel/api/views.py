"""/api/v1/reward-models/: the registry, and scoring with a registered model."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError, error_responses
from core.api.pagination import CursorPage
from rewardmodel import selectors, services
from rewardmodel.api import files
from rewardmodel.api.serializers import (
    RewardModelSerializer,
    ScoreRequestSerializer,
    ScoreResponseSerializer,
)
from rewardmodel.scorers import ScoringUnavailable

TAG = ["reward models"]


class RewardModelView(APIView):
    """ML engineers and admins (core.policy); models of the user's projects only."""


def _model_or_404(request, pk: int):
    reward_model = selectors.reward_model_get(user=request.user, pk=pk)
    if reward_model is None:
        raise ApiError("not_found", f"No reward model {pk} in your projects.", status_code=404)
    return reward_model


class RewardModelListView(RewardModelView, ListAPIView):
    serializer_class = RewardModelSerializer
    pagination_class = CursorPage

    def get_queryset(self):
        return selectors.reward_model_list(user=self.request.user)

    @extend_schema(
        tags=TAG,
        summary="Registered reward models, newest first",
        responses={200: RewardModelSerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RewardModelDetailView(RewardModelView):
    @extend_schema(
        tags=TAG,
        summary="One reward model: metrics, card, path",
        responses={200: RewardModelSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        return Response(RewardModelSerializer(_model_or_404(request, pk)).data)


class RewardModelScoreView(RewardModelView):
    @extend_schema(
        tags=TAG,
        summary="Score completions of a prompt (or a batch of prompts)",
        description=(
            'Body: `{"prompt": str | [{role, content}], "completions": [str]}` or '
            '`{"items": [{prompt, completions}, ...]}`. Rewards are offset-corrected '
            "(training completions average 0); higher is better. The model is loaded once "
            "per server process and kept in a small LRU cache."
        ),
        request=ScoreRequestSerializer,
        responses={200: ScoreResponseSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, pk: int):
        reward_model = _model_or_404(request, pk)
        data = ScoreRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            scores = services.reward_model_score(
                reward_model=reward_model, items=data.validated_data["items"]
            )
        except ScoringUnavailable as exc:
            raise ApiError(
                "scoring_unavailable", str(exc), status_code=status.HTTP_503_SERVICE_UNAVAILABLE
            ) from exc
        return Response(
            {
                "reward_model": reward_model.pk,
                "scores": scores[0],
                "items": [{"scores": s} for s in scores],
            }
        )


class RewardModelFileListView(files.ModelFileListView):
    what = "reward model"

    def model_get(self, request, pk: int):
        return selectors.reward_model_get(user=request.user, pk=pk)


class RewardModelFileDownloadView(files.ModelFileDownloadView):
    what = "reward model"

    def model_get(self, request, pk: int):
        return selectors.reward_model_get(user=request.user, pk=pk)

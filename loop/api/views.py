"""REST endpoints of the model-in-the-loop app, mounted under /api/v1/ (config/api_urls.py)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.permissions import ProjectScopedMixin
from loop.models import LoopSettings
from loop.selectors import loop_overview
from loop.services.settings import loop_settings_update, project_rescore

TAG = ["model in the loop"]


class LoopSettingsInputSerializer(serializers.Serializer):
    priority = serializers.ChoiceField(
        choices=["fifo", "random", "uncertainty"], required=False,
        help_text="Queue order: fifo (closest to completion, then oldest), random (a stored "
        "random key) or uncertainty (the reward model's most informative first).",
    )  # fmt: skip
    reward_model = serializers.IntegerField(
        required=False, allow_null=True, help_text="Registered reward model id."
    )
    rule = serializers.ChoiceField(choices=LoopSettings.Rule.values, required=False)
    shown_k = serializers.IntegerField(required=False, allow_null=True, min_value=2)
    retrain_every = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    retrain_config = serializers.DictField(required=False)
    machine_in_consensus = serializers.BooleanField(
        required=False, help_text="Count machine judgements in consensus and exports."
    )


class ProjectLoopView(ProjectScopedMixin, APIView):
    """The project's loop settings and state: how the queue is ordered, by which model and
    rule, the retraining schedule, machine annotators. Admins change them."""

    @extend_schema(tags=TAG, responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403, 404)})
    def get(self, request, slug):
        return Response(loop_overview(project=self.project))

    @extend_schema(
        tags=TAG,
        request=LoopSettingsInputSerializer,
        responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 403, 404, 503)},
    )
    def patch(self, request, slug):
        data = LoopSettingsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loop_settings_update(project=self.project, actor=request.user, **data.validated_data)
        return Response(loop_overview(project=self.project))


class ProjectLoopRescoreView(ProjectScopedMixin, APIView):
    """Queue a rescoring of every pending prompt under the current settings."""

    @extend_schema(
        tags=TAG, request=None,
        responses={202: OpenApiTypes.OBJECT, **error_responses(400, 401, 403, 404, 503)},
    )  # fmt: skip
    def post(self, request, slug):
        queued = project_rescore(project=self.project)
        return Response({"status": "queued", "prompts": queued}, status=status.HTTP_202_ACCEPTED)

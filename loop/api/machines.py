"""/api/v1/projects/<slug>/machine-annotators/: register a machine judge, run it, calibrate its
confidence on people's judgements, route the prompts it is sure of (hybrid routing)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApiError, error_responses
from core.api.permissions import ProjectScopedMixin
from loop.models import MachineAnnotator
from loop.selectors import machine_annotator_get, machine_annotator_list
from loop.services.hybrid import hybrid_calibrate, hybrid_route
from loop.services.judges import machine_annotator_create, machine_judge_enqueue

TAG = ["model in the loop"]


class MachineAnnotatorSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = MachineAnnotator
        fields = ["id", "name", "kind", "reward_model", "url", "model", "template", "username",
                  "hybrid_threshold", "audit_rate", "calibration", "created_at"]  # fmt: skip
        read_only_fields = fields


class MachineAnnotatorInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    kind = serializers.ChoiceField(choices=MachineAnnotator.Kind.choices)
    reward_model = serializers.IntegerField(required=False, allow_null=True)
    url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    model = serializers.CharField(required=False, allow_blank=True, max_length=200)
    template = serializers.CharField(required=False, allow_blank=True, max_length=20_000)


class CalibrateInputSerializer(serializers.Serializer):
    max_error = serializers.FloatField(required=False, default=0.1, min_value=0.0, max_value=1.0)
    min_prompts = serializers.IntegerField(required=False, default=20, min_value=1)


class RouteInputSerializer(serializers.Serializer):
    audit_rate = serializers.FloatField(min_value=0.0, max_value=1.0)
    seed = serializers.IntegerField(required=False, allow_null=True, default=None)


class MachineAnnotatorListView(ProjectScopedMixin, APIView):
    @extend_schema(tags=TAG, responses={200: MachineAnnotatorSerializer(many=True),
                                        **error_responses(401, 403, 404)})  # fmt: skip
    def get(self, request, slug):
        machines = machine_annotator_list(project=self.project)
        return Response(MachineAnnotatorSerializer(machines, many=True).data)

    @extend_schema(tags=TAG, request=MachineAnnotatorInputSerializer,
                   responses={201: MachineAnnotatorSerializer,
                              **error_responses(400, 401, 403, 404)})  # fmt: skip
    def post(self, request, slug):
        data = MachineAnnotatorInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        machine = machine_annotator_create(
            project=self.project, actor=request.user, **data.validated_data
        )
        return Response(MachineAnnotatorSerializer(machine).data, status=status.HTTP_201_CREATED)


class _MachineAction(ProjectScopedMixin, APIView):
    def machine(self, pk: int) -> MachineAnnotator:
        machine = machine_annotator_get(project=self.project, pk=pk)
        if machine is None:
            raise ApiError("not_found", f"No machine annotator {pk} here.", status_code=404)
        return machine

    def run(self, request, pk: int, serializer_class, service) -> Response:
        """Parse the body, call the service on this machine, answer what it returned."""
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            service(machine=self.machine(pk), actor=request.user, **data.validated_data)
        )


class MachineJudgeView(_MachineAction):
    @extend_schema(tags=TAG, request=None, summary="Queue the machine over every prompt",
                   responses={202: OpenApiTypes.OBJECT,
                              **error_responses(401, 403, 404, 503)})  # fmt: skip
    def post(self, request, slug, pk: int):
        queued = machine_judge_enqueue(machine=self.machine(pk))
        return Response({"status": "queued", "prompts": queued}, status=status.HTTP_202_ACCEPTED)


class MachineCalibrateView(_MachineAction):
    @extend_schema(tags=TAG, request=CalibrateInputSerializer,
                   summary="Choose the confidence threshold on the human-judged sample",
                   responses={200: OpenApiTypes.OBJECT,
                              **error_responses(400, 401, 403, 404)})  # fmt: skip
    def post(self, request, slug, pk: int):
        return self.run(request, pk, CalibrateInputSerializer, hybrid_calibrate)


class MachineRouteView(_MachineAction):
    @extend_schema(tags=TAG, request=RouteInputSerializer,
                   summary="Pre-judge the prompts the machine is sure of; people audit a sample",
                   responses={200: OpenApiTypes.OBJECT,
                              **error_responses(400, 401, 403, 404)})  # fmt: skip
    def post(self, request, slug, pk: int):
        return self.run(request, pk, RouteInputSerializer, hybrid_route)

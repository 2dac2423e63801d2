"""Request parsing and response shapes of the training API (no logic: services decide)."""

from __future__ import annotations

from rest_framework import serializers

from core.api.fields import MESSAGES_SCHEMA, FreeObjectField, typed_json_field
from core.api.serializers import StrictSerializer
from training.models import GenerationJob, Policy, TrainingMetric, TrainingRun, TrainingSample

_PROMPT_ROW = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "prompt": {"type": "string"},
        "messages": MESSAGES_SCHEMA,
    },
    "description": "Exactly one of prompt (text) or messages (a conversation).",
}
ConfigField = typed_json_field(
    "ConfigField",
    {"type": "object", "additionalProperties": True, "example": {"max_steps": 200}},
)
GenerationPromptsField = typed_json_field(
    "GenerationPromptsField",
    {"type": "array", "items": {"oneOf": [{"type": "string"}, _PROMPT_ROW]}},
)
GenerationJobPromptsField = typed_json_field(
    "GenerationJobPromptsField", {"type": "array", "items": _PROMPT_ROW}
)
MetricValuesField = typed_json_field(
    "MetricValuesField",
    {"type": "object", "additionalProperties": {"type": "number", "nullable": True},
     "example": {"loss": 0.52, "accuracy": 0.71}},
)  # fmt: skip
SamplePromptField = typed_json_field(
    "SamplePromptField", {"oneOf": [{"type": "string"}, MESSAGES_SCHEMA]}
)


class TrainingRunCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=TrainingRun.Kind.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    base_model = serializers.CharField(
        max_length=500,
        help_text="Local model directory: the reward model's backbone, or PPO's SFT policy.",
    )
    snapshot = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Dataset snapshot id: training data (reward model) or prompt set (PPO).",
    )
    reward_model = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="PPO: registered reward model id."
    )
    prompt_project = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="PPO: use this project's prompts."
    )
    config = ConfigField(
        required=False,
        default=dict,
        help_text="Trainer options (rlhf RewardConfig / PPOConfig fields) except paths.",
    )

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class TrainingRunFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TrainingRun.Kind.choices, required=False)
    status = serializers.ChoiceField(choices=TrainingRun.Status.choices, required=False)
    project = serializers.SlugField(
        required=False, help_text="Project slug: runs whose snapshot or prompt set is from it."
    )


class TrainingProgressSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    fraction = serializers.FloatField()
    eta_seconds = serializers.IntegerField(allow_null=True)


class TrainingRunSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    config = ConfigField(read_only=True, help_text="Options as submitted.")
    resolved_config = ConfigField(
        read_only=True, help_text="The full trainer config of the latest attempt."
    )
    info = FreeObjectField(read_only=True, help_text="What the trainer said at start.")
    result = FreeObjectField(read_only=True, help_text="Final metrics.")
    card = FreeObjectField(read_only=True, help_text="The model card (rankwise_card.json).")
    progress = serializers.SerializerMethodField()
    registered_reward_model = serializers.SerializerMethodField()
    registered_policy = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id", "kind", "name", "status", "cancel_requested", "progress", "created_by",
            "snapshot", "reward_model", "prompt_project", "base_model", "config",
            "resolved_config", "attempts", "heartbeat_at", "created_at", "started_at",
            "finished_at", "artifact_path", "last_checkpoint", "error", "log_tail", "info",
            "result", "card", "celery_task_id", "registered_reward_model", "registered_policy",
        ]  # fmt: skip
        read_only_fields = fields

    def get_progress(self, run) -> TrainingProgressSerializer:
        return {
            "step": run.step,
            "total_steps": run.total_steps,
            "fraction": round(run.progress, 4),
            "eta_seconds": run.eta_seconds,
        }

    def get_registered_reward_model(self, run) -> int | None:
        rm = getattr(run, "registered_reward_model", None)
        return rm.pk if rm else None

    def get_registered_policy(self, run) -> int | None:
        policy = getattr(run, "registered_policy", None)
        return policy.pk if policy else None


class TrainingRunListSerializer(TrainingRunSerializer):
    class Meta(TrainingRunSerializer.Meta):
        fields = [
            "id", "kind", "name", "status", "cancel_requested", "progress", "created_by",
            "snapshot", "reward_model", "prompt_project", "base_model", "attempts",
            "heartbeat_at", "created_at", "started_at", "finished_at", "error",
        ]  # fmt: skip
        read_only_fields = fields


class TrainingMetricSerializer(serializers.ModelSerializer):
    values = MetricValuesField()

    class Meta:
        model = TrainingMetric
        fields = ["id", "step", "values", "created_at"]


class TrainingMetricsResponseSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    status = serializers.CharField()
    progress = TrainingProgressSerializer()
    points = TrainingMetricSerializer(many=True)


class TrainingSampleSerializer(serializers.ModelSerializer):
    prompt = SamplePromptField(help_text="Text, or a conversation as {role, content} messages.")

    class Meta:
        model = TrainingSample
        fields = ["id", "step", "prompt", "response", "score", "length", "ended_with_eos"]


class PolicySerializer(serializers.ModelSerializer):
    metrics = FreeObjectField()
    card = FreeObjectField()

    class Meta:
        model = Policy
        fields = [
            "id", "name", "path", "base_model", "training_run", "reward_model", "metrics",
            "card", "created_at",
        ]  # fmt: skip


class GenerationJobCreateSerializer(StrictSerializer):
    project = serializers.IntegerField(help_text="Project the new ranking tasks go to.")
    prompts = GenerationPromptsField(
        help_text='List of strings, or of {"id"?, "prompt" | "messages"} objects.'
    )
    k = serializers.IntegerField(default=4, help_text="Completions per prompt (2-9).")
    policy = serializers.IntegerField(required=False, allow_null=True, default=None)
    training_run = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="A PPO run's registered policy."
    )
    model_path = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=500
    )
    model_name = serializers.CharField(required=False, allow_blank=True, default="")
    max_new_tokens = serializers.IntegerField(default=256)
    temperature = serializers.FloatField(default=0.7)
    top_p = serializers.FloatField(default=1.0)
    seed = serializers.IntegerField(default=0)


class GenerationJobSerializer(serializers.ModelSerializer):
    prompts = GenerationJobPromptsField(read_only=True)
    result = FreeObjectField(read_only=True, help_text="The import's counts.")

    class Meta:
        model = GenerationJob
        fields = [
            "id", "project", "policy", "model_path", "model_name", "prompts", "k",
            "max_new_tokens", "temperature", "top_p", "seed", "status", "error", "result",
            "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

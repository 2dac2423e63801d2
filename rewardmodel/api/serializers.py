from __future__ import annotations

from rest_framework import serializers

from core.api.fields import FreeObjectField
from rewardmodel.models import RewardModel

MAX_COMPLETIONS_PER_PROMPT = 64
MAX_ITEMS = 64
ROLES = ("system", "user", "assistant")


class RewardModelSerializer(serializers.ModelSerializer):
    metrics = FreeObjectField(help_text="Held-out evaluation.")
    card = FreeObjectField(help_text="The model card (rankwise_card.json).")

    class Meta:
        model = RewardModel
        fields = [
            "id", "name", "path", "base_model", "snapshot", "training_run", "reward_offset",
            "metrics", "card", "created_at",
        ]  # fmt: skip


class PromptField(serializers.JSONField):
    """Text, or a conversation as a list of {role, content}."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if isinstance(data, str):
            if not data.strip():
                raise serializers.ValidationError("must not be empty")
            return data
        if isinstance(data, list) and data:
            for i, m in enumerate(data):
                if not (isinstance(m, dict) and m.get("role") in ROLES
                        and isinstance(m.get("content"), str)):  # fmt: skip
                    raise serializers.ValidationError(
                        f"message {i} needs role ({', '.join(ROLES)}) and string content"
                    )
            return [{"role": m["role"], "content": m["content"]} for m in data]
        raise serializers.ValidationError("must be a string or a list of {role, content}")


class ScoreItemSerializer(serializers.Serializer):
    prompt = PromptField()
    completions = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        min_length=1,
        max_length=MAX_COMPLETIONS_PER_PROMPT,
    )


class ScoreRequestSerializer(serializers.Serializer):
    """Either one prompt with its completions, or ``items`` (a batch of prompts)."""

    prompt = PromptField(required=False)
    completions = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        min_length=1,
        max_length=MAX_COMPLETIONS_PER_PROMPT,
        required=False,
    )
    items = ScoreItemSerializer(many=True, required=False, max_length=MAX_ITEMS)

    def validate(self, attrs):
        single = "prompt" in attrs or "completions" in attrs
        if single == ("items" in attrs):
            raise serializers.ValidationError(
                {"items": "give either prompt and completions, or items"}
            )
        if single:
            for key in ("prompt", "completions"):
                if key not in attrs:
                    raise serializers.ValidationError({key: "This field is required."})
            return {"items": [{"prompt": attrs["prompt"], "completions": attrs["completions"]}]}
        if not attrs["items"]:
            raise serializers.ValidationError({"items": "must not be empty"})
        return attrs


class ScoreResultSerializer(serializers.Serializer):
    scores = serializers.ListField(child=serializers.FloatField())


class ScoreResponseSerializer(serializers.Serializer):
    reward_model = serializers.IntegerField()
    scores = serializers.ListField(
        child=serializers.FloatField(), help_text="The first (or only) item's rewards."
    )
    items = ScoreResultSerializer(many=True)

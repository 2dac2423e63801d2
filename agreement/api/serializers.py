"""Request and response shapes of the agreement API (no logic: agreement.services decides)."""

from __future__ import annotations

from rest_framework import serializers

from annotate.api.serializers import DimensionChoicesField, GapsField, RankingField
from annotate.constants import MAX_COMMENT_LENGTH


class AdjudicationInputSerializer(serializers.Serializer):
    ranking = RankingField(help_text="Every completion id placed, tie groups best first.")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT_LENGTH)
    strength = serializers.IntegerField(
        required=False, allow_null=True,
        help_text="Pairwise-strength projects: the winner's lead, 1..levels; 0 for a tie.",
    )  # fmt: skip
    tie_kind = serializers.CharField(
        required=False, allow_blank=True, max_length=10, help_text="both_good or both_bad."
    )
    gaps = GapsField(required=False)
    dimensions = DimensionChoicesField(
        required=False, help_text="The dimensions the reviewer decided (any of the project's)."
    )


class AdjudicationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.IntegerField(source="prompt_id")
    reviewer = serializers.CharField(source="reviewer.username")
    ranking = RankingField()
    comment = serializers.CharField()
    strength = serializers.IntegerField(allow_null=True)
    tie_kind = serializers.CharField()
    gaps = GapsField()
    dimensions = DimensionChoicesField()
    created_at = serializers.DateTimeField()

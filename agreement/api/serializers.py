"""Request and response shapes of the agreement API (no logic: agreement.services decides)."""

from __future__ import annotations

from rest_framework import serializers

from annotate.api.serializers import RankingField
from annotate.constants import MAX_COMMENT_LENGTH


class AdjudicationInputSerializer(serializers.Serializer):
    ranking = RankingField(help_text="Every completion id placed, tie groups best first.")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT_LENGTH)


class AdjudicationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.IntegerField(source="prompt_id")
    reviewer = serializers.CharField(source="reviewer.username")
    ranking = RankingField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()

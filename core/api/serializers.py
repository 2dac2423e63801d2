from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.models import AuditEvent

JSON_OBJECT = {"type": "object", "additionalProperties": True, "nullable": True}


@extend_schema_field(JSON_OBJECT)
class JsonObjectField(serializers.JSONField):
    pass


class StrictSerializer(serializers.Serializer):
    """Unknown keys are errors that name the key: a typo must not be silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["unknown field"] for key in unknown})
        return super().to_internal_value(data)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor_username", help_text="Username, kept after the account is deleted."
    )
    project = serializers.CharField(source="project_slug", help_text="Slug at the time.")
    before = JsonObjectField(help_text="The changed fields before the change.")
    after = JsonObjectField(help_text="The changed fields after the change.")

    class Meta:
        model = AuditEvent
        fields = [
            "id", "created_at", "actor", "action", "object_type", "object_id", "object_repr",
            "project", "project_id", "before", "after", "source", "request_id",
        ]  # fmt: skip
        read_only_fields = fields


class AuditEventFilterSerializer(serializers.Serializer):
    project = serializers.CharField(required=False, max_length=100,
                                    help_text="Project slug (as recorded) or id.")  # fmt: skip
    actor = serializers.CharField(required=False, max_length=150, help_text="Username.")
    action = serializers.CharField(
        required=False, max_length=64,
        help_text="An action (token.issue) or a family (token: every token.* action).",
    )  # fmt: skip
    object_type = serializers.CharField(required=False, max_length=100,
                                        help_text="e.g. annotate.project")  # fmt: skip
    object_id = serializers.CharField(required=False, max_length=64)
    since = serializers.DateTimeField(required=False, help_text="From this time (inclusive).")
    until = serializers.DateTimeField(required=False, help_text="Before this time.")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "must be after since"})
        return attrs

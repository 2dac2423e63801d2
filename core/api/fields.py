"""Serializer fields whose OpenAPI schema says what their JSON holds."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def typed_json_field(name: str, schema: dict) -> type[serializers.JSONField]:
    """A JSONField subclass the OpenAPI schema documents as ``schema``.

    Always a new subclass: ``extend_schema_field(...)(serializers.JSONField)`` annotates DRF's
    own class, and the last such call then types every JSON field of the API.
    """
    return extend_schema_field(schema)(type(name, (serializers.JSONField,), {}))


STRINGS = {"type": "array", "items": {"type": "string"}}
MESSAGES_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "role": {"type": "string", "enum": ["system", "user", "assistant"]},
            "content": {"type": "string"},
        },
        "required": ["role", "content"],
    },
}
FreeObjectField = typed_json_field(
    "FreeObjectField", {"type": "object", "additionalProperties": True}
)

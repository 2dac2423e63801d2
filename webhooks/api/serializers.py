"""Request and response shapes of the webhooks API (no logic: webhooks.services decides)."""

from __future__ import annotations

from rest_framework import serializers

from core.api.fields import FreeObjectField, typed_json_field
from core.api.serializers import StrictSerializer
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookDelivery, WebhookEndpoint

AGREEMENT_METRICS = WebhookEndpoint._meta.get_field("agreement_metric").choices

EventsField = typed_json_field(
    "WebhookEventsField",
    {"type": "array", "items": {"type": "string", "enum": sorted(EVENT_TYPES)},
     "example": ["snapshot.ready", "training_run.succeeded"]},
)  # fmt: skip


class WebhookCreateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=2000, help_text="http(s) URL the events are POSTed to.")
    events = EventsField(help_text="Event types to receive (see docs/api.md, Webhooks).")
    secret = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default="",
        help_text="HMAC key (16+ characters); generated when left out, and shown once.",
    )  # fmt: skip
    description = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                        default="")  # fmt: skip
    active = serializers.BooleanField(required=False, default=True)
    agreement_metric = serializers.ChoiceField(
        choices=AGREEMENT_METRICS, required=False, default="pairwise_agreement",
        help_text="agreement.below_threshold: the agreement report's figure to watch.",
    )  # fmt: skip
    agreement_threshold = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-1, max_value=1,
        help_text="agreement.below_threshold fires when the figure drops under this "
        "(required with that event).",
    )  # fmt: skip


class WebhookUpdateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=2000, required=False)
    events = EventsField(required=False)
    secret = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    active = serializers.BooleanField(required=False)
    agreement_metric = serializers.ChoiceField(choices=AGREEMENT_METRICS, required=False)
    agreement_threshold = serializers.FloatField(
        required=False, allow_null=True, min_value=-1, max_value=1
    )


class WebhookSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    events = EventsField(read_only=True)
    secret_hint = serializers.SerializerMethodField(help_text="The secret's last 4 characters.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "project", "url", "events", "active", "description", "agreement_metric",
                  "agreement_threshold", "secret_hint", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields

    def get_secret_hint(self, endpoint) -> str:
        return "…" + endpoint.secret[-4:]


class WebhookCreatedSerializer(WebhookSerializer):
    """The answer to a create: the only time the secret is shown."""

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    payload = FreeObjectField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "event_id", "event_type", "status", "attempts",
                  "response_code", "response_body", "latency_ms", "error", "next_attempt_at",
                  "replay_of", "created_at", "last_attempt_at", "delivered_at", "payload"]  # fmt: skip
        read_only_fields = fields


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)

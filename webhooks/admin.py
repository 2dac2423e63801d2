"""Webhooks in the Django admin: endpoints (with a ping action) and the delivery log (filter
by endpoint; a replay action). Both go through webhooks.services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from webhooks import endpoints, services
from webhooks.models import WebhookDelivery, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ["project", "url", "events", "secret", "description", "active",
                  "agreement_metric", "agreement_threshold"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agreement_metric"].required = False  # the model's default then

    def clean_agreement_metric(self):
        return self.cleaned_data.get("agreement_metric") or "pairwise_agreement"

    def clean(self):
        # The service's own rules, shown beside their fields instead of failing the save.
        data = super().clean()
        try:
            endpoints.webhook_endpoint_check(
                url=data.get("url"), events=data.get("events"),
                agreement_metric=data.get("agreement_metric") or "pairwise_agreement",
                agreement_threshold=data.get("agreement_threshold"),
            )  # fmt: skip
        except ValidationError as exc:
            for field, messages_ in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["id", "project", "url", "active", "created_at"]
    list_filter = ["active", "project"]
    search_fields = ["url", "description"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fields = ["project", "url", "events", "secret", "description", "active", "agreement_metric",
              "agreement_threshold", "created_by", "created_at", "updated_at"]  # fmt: skip
    actions = ["ping"]

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name]
                  for name in ("url", "events", "secret", "description", "active",
                               "agreement_metric", "agreement_threshold")}  # fmt: skip
        if change:
            services.webhook_endpoint_update(endpoint=obj, user=request.user, **values)
        else:
            created = services.webhook_endpoint_create(project=form.cleaned_data["project"],
                                                       user=request.user, **values)  # fmt: skip
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.webhook_endpoint_delete(endpoint=obj, user=request.user)

    @admin.action(description="Send a ping event")
    def ping(self, request, queryset):
        for endpoint in queryset:
            services.webhook_ping(endpoint=endpoint, user=request.user)
        self.message_user(request, f"Ping queued for {queryset.count()} webhook(s).")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "event_type", "status", "attempts", "response_code",
                    "latency_ms", "created_at", "next_attempt_at"]  # fmt: skip
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["event_id", "endpoint__url"]
    actions = ["replay"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay (send the event again as a new delivery)")
    def replay(self, request, queryset):
        for delivery in queryset.select_related("endpoint__project"):
            services.webhook_delivery_replay(delivery=delivery, user=request.user)
        self.message_user(request, f"{queryset.count()} delivery(ies) replayed.", messages.SUCCESS)

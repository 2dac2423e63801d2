"""Reads of webhooks: a project's endpoints and an endpoint's delivery log."""

from __future__ import annotations

from webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_list(*, project):
    return WebhookEndpoint.objects.filter(project=project).select_related("project")


def webhook_get(*, project, pk: int) -> WebhookEndpoint | None:
    return webhook_list(project=project).filter(pk=pk).first()


def webhook_delivery_list(*, endpoint: WebhookEndpoint, status: str | None = None):
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-id")


def webhook_delivery_get(*, endpoint: WebhookEndpoint, pk: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(endpoint=endpoint, pk=pk).first()

"""Celery tasks of webhooks, routed to the ``webhooks`` queue (settings.CELERY_TASK_ROUTES):
a slow receiver holds up only that queue's workers."""

from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.delivery_send", acks_late=True, reject_on_worker_lost=True)
def webhook_delivery_send(delivery_id: int) -> str:
    return services.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.deliveries_sweep")
def webhook_deliveries_sweep() -> list[int]:
    return services.webhook_deliveries_sweep()

"""Beat tasks of operations: names outside any routed pattern, so they run on the default queue
even while every GPU worker trains. The names keep the former ops app's prefix: they are on
the wire (beat, queued messages, outbox rows)."""

from celery import shared_task

from core import maintenance as services


@shared_task(name="core.outbox_sweep", ignore_result=True)
def outbox_sweep() -> dict:
    return services.outbox_sweep()


@shared_task(name="core.tasks_reap_stale", ignore_result=True)
def tasks_reap_stale() -> dict:
    return services.tasks_reap_stale()

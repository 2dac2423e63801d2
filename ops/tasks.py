"""Beat tasks of ops: names outside any routed pattern, so they run on the default queue even
while every GPU worker trains."""

from celery import shared_task

from ops import services


@shared_task(name="ops.maintenance.outbox_sweep", ignore_result=True)
def outbox_sweep() -> dict:
    return services.outbox_sweep()


@shared_task(name="ops.maintenance.tasks_reap_stale", ignore_result=True)
def tasks_reap_stale() -> dict:
    return services.tasks_reap_stale()

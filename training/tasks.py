"""Celery tasks of the training app: thin wrappers that look rows up by id via a service.

The run and the generation job are routed to the ``gpu`` queue by name
(settings.CELERY_TASK_ROUTES). The reaper must run while every GPU worker is busy training, so
it is not routed there: it goes to the default queue.
"""

from celery import shared_task

from training import services
from training.selectors import heartbeat_stale_after


@shared_task(
    name="training.training_run_execute",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=None,
    soft_time_limit=None,
    max_retries=None,
)
def training_run_execute(self, run_id: int) -> str:
    outcome = services.training_run_execute(run_id=run_id, task_id=self.request.id or "")
    if outcome == "busy":
        # Delivered again while the run still heartbeats (e.g. the broker's visibility
        # timeout ran out on a long run): look again once a dead worker would show as stale.
        raise self.retry(countdown=heartbeat_stale_after().total_seconds())
    return outcome


@shared_task(
    name="training.generation_job_execute",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=None,
)
def generation_job_execute(self, job_id: int) -> str:
    return services.generation_job_execute(job_id=job_id)


@shared_task(name="training.training_runs_reap_stale")
def training_runs_reap_stale() -> dict:
    return services.training_runs_reap_stale()

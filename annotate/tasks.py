from celery import shared_task

from annotate.services.import_jobs import import_job_run


@shared_task(name="annotate.import_job_run", acks_late=True, ignore_result=True)
def import_job_run_task(job_id: int) -> None:
    # The import is one transaction and idempotent: a redelivered message after a lost worker
    # finds the job no longer queued and leaves it (see import_job_run).
    import_job_run(job_id=job_id)

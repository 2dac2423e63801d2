"""Uploads from the web: small files are imported in the request, large ones by a Celery task.

``prompts_import_upload`` decides by the upload's size once decompressed
(``RANKWISE_IMPORT_SYNC_MAX_BYTES``, 1 MiB by default, read without expanding more than that):
at most that is imported at once (an ImportResult, or ImportFailed); above it the file is
stored, an ImportJob is created and a task queued after commit (the caller answers 202 and
the client polls the job). The task imports with the same all-or-nothing service and reports
lines read, errors and prompts created on the job row while it runs.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotate.imports.reader import data_size_at_most
from annotate.models import ImportJob, Project
from annotate.services.imports import (
    ImportFailed,
    ImportProgress,
    ImportResult,
    prompts_import,
)
from core.context import audit_context, audit_context_current
from core.db import each_unlocked_row, row_update, side_connection
from core.dispatch import broker_check, task_enqueue
from core.events import IMPORT_JOB_FINISHED, event_publish
from core.heartbeat import max_attempts, stale_after

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadOutcome:
    """Exactly one is set: the result of an import done now, or the job that will do it."""

    result: ImportResult | None = None
    job: ImportJob | None = None


def prompts_import_upload(
    *, project: Project, upload, fmt: str, annotator: str | None, actor
) -> UploadOutcome:
    """Import an uploaded file now if it is small, else queue an ImportJob for it."""
    if data_size_at_most(upload.file, settings.RANKWISE_IMPORT_SYNC_MAX_BYTES):
        result = prompts_import(
            project=project, source=upload.file, fmt=fmt, annotator=annotator, actor=actor,
            label=upload.name or "",
        )  # fmt: skip
        return UploadOutcome(result=result)
    job = import_job_create(project=project, upload=upload, fmt=fmt, annotator=annotator,
                            actor=actor)  # fmt: skip
    return UploadOutcome(job=job)


@transaction.atomic
def import_job_create(*, project: Project, upload, fmt: str, annotator: str | None, actor):
    """Store the upload, record a queued job and send it to the worker after commit.

    The broker is checked before the file is stored: when it is down this raises
    ``BrokerUnavailable`` (503) and leaves neither a row nor a file behind.
    """
    broker_check()
    name = PurePath(upload.name or "upload.jsonl").name[:255]
    context = audit_context_current()
    job = ImportJob(
        project=project,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        format=fmt,
        annotator=annotator or "",
        file_name=name,
        file_size=upload.size,
        source=context.source,
        request_id=context.request_id,
    )
    # A random stored name: the uploaded one is the admin's to choose, the folder is ours.
    suffix = ".gz" if name.endswith(".gz") else ".jsonl"
    job.file.save(f"{uuid.uuid4().hex}{suffix}", upload, save=False)
    job.save()
    _import_job_enqueue(job)
    return job


def _import_job_enqueue(job: ImportJob) -> None:
    """The one place an import job is sent to the broker: through the task outbox, so a
    message lost after the commit is sent again (the broker was checked already)."""
    from annotate.tasks import import_job_run_task  # the task module imports this one

    task_enqueue(task=import_job_run_task, args=[job.pk], require_broker=False)


def _claim(job_id: int, *, beats: bool) -> ImportJob | None:
    """Mark a queued job running; None if it is gone or another delivery has it.

    ``beats``: progress reports will carry a heartbeat (a side connection exists), so the
    reaper may judge the job by it. Without one (SQLite: the import's transaction is the only
    writer) no heartbeat can be written until the end, and the job is never reaped.
    """
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=now, updated_at=now,
        heartbeat_at=now if beats else None, attempts=F("attempts") + 1,
    )  # fmt: skip
    if not claimed:
        return None
    return ImportJob.objects.select_related("project", "created_by").get(pk=job_id)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """The worker's side: import the job's file, recording progress and the outcome."""
    with side_connection() as side:
        job = _claim(job_id, beats=side is not None)
        if job is None:
            logger.info("import job %s: not queued any more, skipped", job_id)
            return None

        def progress(p: ImportProgress) -> None:
            job.lines_read, job.error_count = p.lines_read, p.errors
            if side is not None:
                now = timezone.now()
                row_update(side, ImportJob, job.pk, lines_read=p.lines_read,
                           error_count=p.errors, prompts_created=p.prompts_created,
                           updated_at=now, heartbeat_at=now)  # fmt: skip

        try:
            with (
                job.file.open("rb") as handle,
                audit_context(source=job.source or "worker", request_id=job.request_id),
            ):
                result = prompts_import(
                    project=job.project, source=handle, fmt=job.format,
                    annotator=job.annotator or None, actor=job.created_by, progress=progress,
                    label=job.file_name,
                )  # fmt: skip
        except ImportFailed as exc:
            _finish(job, failed=exc)
        except Exception:
            logger.exception("import job %s stopped on an internal error", job.pk)
            _finish(job, failed=ImportFailed([]), internal=True)
        else:
            _finish(job, result=result)
    return job


def _finish(
    job: ImportJob, *, result: ImportResult | None = None, failed: ImportFailed | None = None,
    internal: bool = False,
) -> None:  # fmt: skip
    if failed is not None:
        job.status = ImportJob.Status.FAILED
        job.errors = [{"line": e.line, "field": e.field, "message": e.message}
                      for e in failed.errors]  # fmt: skip
        if internal:
            job.errors = [{"line": None, "field": "",
                           "message": "the import stopped on an internal error; nothing was "
                           "imported (the worker's log has the details)"}]  # fmt: skip
        job.errors_truncated = failed.truncated
        job.error_count = len(job.errors)
        job.prompts_created = 0
    else:
        job.status = ImportJob.Status.SUCCEEDED
        job.result = result.as_dict()
        job.prompts_created = result.prompts_created
    job.finished_at = timezone.now()
    stored = job.file.name
    job.file = ""
    fields = ["status", "errors", "errors_truncated", "error_count", "prompts_created",
              "result", "finished_at", "file", "lines_read", "updated_at"]  # fmt: skip
    job.updated_at = timezone.now()
    # Only this attempt's row: one the reaper wrote off belongs to the attempt after it.
    mine = ImportJob.objects.filter(pk=job.pk, attempts=job.attempts)
    with transaction.atomic():  # the event commits with the status it reports
        finished = mine.update(**{name: getattr(job, name) for name in fields})
        if finished:
            # webhooks builds on annotate's models: it listens (core.events), we do not call it
            event_publish(IMPORT_JOB_FINISHED, job=job)
    if finished and stored:
        default_storage.delete(stored)


def import_jobs_reap_stale(*, now=None) -> dict[str, list[int]]:
    """Jobs whose worker stopped reporting progress for ``TASK_STALE_SECONDS`` go back to the
    queue (the file is still stored; the import is one transaction, so the dead attempt left
    nothing, and a repeated line is a no-op), or fail after ``TASK_MAX_ATTEMPTS``."""
    now = now or timezone.now()
    stale = ImportJob.objects.filter(
        status=ImportJob.Status.RUNNING, heartbeat_at__lt=now - stale_after()
    )
    outcome: dict[str, list[int]] = {"requeued": [], "failed": []}
    for job in each_unlocked_row(stale):
        note = (f"no progress since {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC: worker "
                "presumed lost")  # fmt: skip
        if job.attempts < max_attempts() and job.file:
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.QUEUED, updated_at=now, heartbeat_at=None
            )
            _import_job_enqueue(job)
            outcome["requeued"].append(job.pk)
        else:
            _finish(job, failed=ImportFailed([]), internal=True)
            ImportJob.objects.filter(pk=job.pk).update(errors=[
                {"line": None, "field": "", "message": f"{note} after {job.attempts} "
                 "attempt(s); nothing was imported by them"}])  # fmt: skip
            outcome["failed"].append(job.pk)
    return outcome

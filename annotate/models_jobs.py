"""The import job model, kept beside ``annotate.models`` (which re-exports it) so that module
stays within the 400-line limit; Django registers it in the annotate app all the same."""

from django.conf import settings
from django.db import models

from core.choices import JobStatus


class ImportJob(models.Model):
    """An uploaded file imported by a Celery task, with the progress a poller reads.

    Small uploads are imported inside the request and leave no job. The stored file is removed
    once the job ends; the row keeps its name, size, counts and errors.
    """

    Status = JobStatus

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="import_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=20)
    annotator = models.CharField(max_length=150, blank=True)
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True, max_length=300)
    file_name = models.CharField(max_length=255, help_text="The uploaded file's name.")
    file_size = models.PositiveBigIntegerField(help_text="Bytes uploaded (compressed, if gzip).")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    lines_read = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    prompts_created = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text='[{"line", "field", "message"}], at most 20.'
    )
    errors_truncated = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True, help_text="The import's counts.")
    # Where the upload came from, so the worker's audit event names the original request.
    source = models.CharField(max_length=16, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written with each progress report; the reaper re-queues a running job whose heartbeat
    # is older than TASK_STALE_SECONDS (null: no side connection to write it, never reaped).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker claimed it.")
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"import #{self.pk} of {self.file_name} into {self.project_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def result_or_none(self) -> dict | None:
        return self.result or None

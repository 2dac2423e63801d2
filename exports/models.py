from pathlib import Path

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q


class DatasetSnapshot(models.Model):
    """One immutable export of a project's judgements, built once by a Celery task.

    Everything needed to reproduce or audit the file is stored with it: the cleaned filter
    settings, the code version that wrote it, row counts and the SHA-256 of its content.
    Training runs point at a snapshot, so nothing here is edited after the build finishes.
    """

    class Format(models.TextChoices):
        PAIRWISE = "pairwise", "Pairwise JSONL (TRL chosen/rejected)"
        RANKINGS = "rankings", "Rankings JSONL (rankwise import format)"
        HF = "hf", "Hugging Face DatasetDict + Parquet"
        HELPSTEER3 = "helpsteer3", "HelpSteer3-Preference JSONL (pairwise-strength projects)"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.PROTECT, related_name="snapshots"
    )
    format = models.CharField(max_length=10, choices=Format.choices)
    settings = models.JSONField(help_text="Cleaned export settings: mode, filters, splits, seed.")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    # Progress counts prompts, whose total is known up front; rows per prompt are not.
    prompts_total = models.PositiveIntegerField(default=0)
    prompts_done = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveBigIntegerField(default=0)
    row_counts = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the JSONL content.")
    file_path = models.CharField(
        max_length=500, blank=True, help_text="Relative to ARTIFACTS_DIR; the data file or folder."
    )
    size_bytes = models.PositiveBigIntegerField(default=0)
    files = models.JSONField(
        default=list, blank=True, help_text='[{"path", "size", "sha256"}] relative to the folder.'
    )
    code_version = models.CharField(max_length=100, blank=True)
    data_as_of = models.DateTimeField(
        null=True, blank=True, help_text="Judgements created after this are not in the snapshot."
    )
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written by the building worker every TASK_HEARTBEAT_SECONDS; the reaper re-queues or
    # fails a "running" snapshot whose heartbeat is older than TASK_STALE_SECONDS.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Builds started.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="ready") | (~Q(sha256="") & ~Q(file_path="")),
                name="snapshot_ready_has_content",
            ),
        ]
        indexes = [models.Index(fields=["project", "-id"])]

    def __str__(self):
        # Not "snapshot 1 of 2" (which read as a count): the project by name.
        return f"Snapshot #{self.pk} of project {self.project.name} ({self.format}, {self.status})"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def progress(self) -> float:
        if self.status == self.Status.READY:
            return 1.0
        if not self.prompts_total:
            return 0.0
        return min(1.0, self.prompts_done / self.prompts_total)

    @property
    def path(self) -> Path | None:
        """Absolute path of the data: a JSONL file, or the DatasetDict folder for ``hf``."""
        if not self.file_path:
            return None
        return Path(django_settings.ARTIFACTS_DIR) / self.file_path

    @property
    def folder(self) -> Path | None:
        """The snapshot's folder: data, ``snapshot.json`` card and ``SHA256SUMS``."""
        path = self.path
        return None if path is None else path.parent

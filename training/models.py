from django.conf import settings
from django.db import models
from django.db.models import Q

from core.artifacts import artifact_path_resolve
from core.choices import JobStatus
from rewardmodel.models import TrainedModel


class TrainingRun(models.Model):
    """One reward-model or PPO training job, from the request to the registered model.

    The worker writes progress, metrics and a heartbeat here while it trains; the API and the
    run page only read. ``attempts`` counts how often a worker picked the run up, so a worker
    that was written off (no heartbeat) notices it has been replaced and stops.
    """

    class Kind(models.TextChoices):
        REWARD_MODEL = "reward_model", "Reward model"
        PPO = "ppo", "PPO"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    FINISHED_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="training_runs",
    )
    snapshot = models.ForeignKey(
        "exports.DatasetSnapshot",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="training_runs",
        help_text="Training data of a reward-model run; the prompt set of a PPO run may be one.",
    )
    reward_model = models.ForeignKey(
        "rewardmodel.RewardModel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ppo_runs",
        help_text="The reward a PPO run optimises.",
    )
    prompt_project = models.ForeignKey(
        "annotate.Project",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ppo_runs",
        help_text="PPO prompt set: every prompt of this project.",
    )
    base_model = models.CharField(
        max_length=500, help_text="Local model directory (or a hub name where one is reachable)."
    )
    config = models.JSONField(default=dict, blank=True, help_text="Options as submitted.")
    resolved_config = models.JSONField(
        default=dict, blank=True, help_text="The full trainer config of the latest attempt."
    )

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    cancel_requested = models.BooleanField(default=False)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    info = models.JSONField(default=dict, blank=True, help_text="What the trainer said at start.")
    log_tail = models.TextField(blank=True)
    artifact_path = models.CharField(
        max_length=500, blank=True, help_text="Relative to ARTIFACTS_DIR."
    )
    last_checkpoint = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="Final metrics.")
    card = models.JSONField(default=dict, blank=True, help_text="rankwise_card.json")
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="reward_model", snapshot__isnull=False)
                | Q(kind="ppo", reward_model__isnull=False),
                name="training_run_has_inputs",
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} run {self.pk} ({self.status})"

    @property
    def display_name(self) -> str:
        return self.name or f"{self.kind.replace('_', '-')}-{self.pk}"

    @property
    def artifact_dir(self):
        return artifact_path_resolve(self.artifact_path) if self.artifact_path else None

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def progress(self) -> float:
        if self.status == self.Status.SUCCEEDED:
            return 1.0
        if not self.total_steps:
            return 0.0
        return min(1.0, self.step / self.total_steps)


class TrainingMetric(models.Model):
    """One progress report: the trainer's scalar metrics at a step."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metric_points")
    step = models.PositiveIntegerField()
    values = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "id"])]

    def __str__(self):
        return f"run {self.run_id} step {self.step}"


class TrainingSample(models.Model):
    """A PPO response to a fixed evaluation prompt, at the start and at each checkpoint."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="samples")
    step = models.PositiveIntegerField()
    prompt = models.JSONField(help_text="Text or a list of {role, content} messages.")
    response = models.TextField(blank=True)
    score = models.FloatField(null=True, blank=True)
    length = models.PositiveIntegerField(null=True, blank=True)
    ended_with_eos = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["step", "id"]
        indexes = [models.Index(fields=["run", "step"])]

    def __str__(self):
        return f"run {self.run_id} step {self.step} sample {self.pk}"


class Policy(TrainedModel):
    """A causal LM that can generate the next round of completions to rank (a trained model of
    the registry, ``rewardmodel.models.TrainedModel``)."""

    KIND = TrainedModel.Kind.POLICY

    training_run = models.OneToOneField(
        TrainingRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registered_policy",
    )
    reward_model = models.ForeignKey(
        "rewardmodel.RewardModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="policies",
    )

    class Meta(TrainedModel.Meta):
        verbose_name_plural = "policies"


class GenerationJob(models.Model):
    """K completions per new prompt from a policy, imported into a project as ranking tasks."""

    Status = JobStatus

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="generation_jobs"
    )
    policy = models.ForeignKey(
        Policy, null=True, blank=True, on_delete=models.SET_NULL, related_name="generation_jobs"
    )
    model_path = models.CharField(max_length=500, help_text="What generates (resolved).")
    model_name = models.CharField(max_length=200, help_text="The completions' model name.")
    prompts = models.JSONField(help_text="List of {id, prompt | messages} to complete.")
    k = models.PositiveSmallIntegerField()
    max_new_tokens = models.PositiveIntegerField(default=256)
    temperature = models.FloatField(default=0.7)
    top_p = models.FloatField(default=1.0)
    seed = models.IntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker claimed it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="The import's counts.")
    celery_task_id = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(k__gte=2) & Q(k__lte=9), name="generation_k_range")
        ]

    def __str__(self):
        return f"generation {self.pk} for {self.project_id} ({self.status})"

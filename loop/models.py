"""A project's model-in-the-loop settings: which registered reward model orders its queue,
how often it is retrained, and which machine annotators judge it.

The queue itself (``annotate``) knows only ``Project.priority`` and ``Prompt.priority``; this
app, above ``training``, fills them (``loop.services.scoring``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class LoopSettings(models.Model):
    class Rule(models.TextChoices):
        BALD = "bald", "BALD (mutual information between label and ensemble member)"
        SPREAD = "spread", "Spread of the members' P(better)"
        MARGIN = "margin", "Margin (mean P(better) closest to a coin flip)"

    project = models.OneToOneField(
        "annotate.Project", on_delete=models.CASCADE, related_name="loop_settings"
    )
    reward_model = models.ForeignKey(
        "rewardmodel.RewardModel", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Scores the queue when the project's priority is uncertainty.",
    )  # fmt: skip
    rule = models.CharField(max_length=8, choices=Rule.choices, default=Rule.BALD)
    retrain_every = models.PositiveIntegerField(
        null=True, blank=True, help_text="Retrain the reward model every N new human judgements."
    )
    # Human judgements counted when the last retraining started, and that run while it lasts.
    retrain_judgements_at = models.PositiveIntegerField(default=0)
    retrain_snapshot = models.ForeignKey(
        "exports.DatasetSnapshot", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    retrain_run = models.ForeignKey(
        "training.TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whose retraining it is: the admin who set retrain_every (runs are started on their behalf).
    retrain_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    retrain_config = models.JSONField(default=dict, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(retrain_every__isnull=True) | Q(retrain_every__gte=1),
                name="loop_retrain_every_positive",
            )
        ]

    def __str__(self):
        return f"loop settings of {self.project_id}"


class MachineAnnotator(models.Model):
    """A machine that judges a project's prompts: a registered reward model, or an
    OpenAI-compatible chat endpoint with a prompt template. Its judgements are Annotations by
    ``user`` (a bot account) with source ``machine``."""

    class Kind(models.TextChoices):
        REWARD_MODEL = "reward_model", "Registered reward model"
        CHAT = "chat", "OpenAI-compatible chat endpoint"

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="machine_annotators"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reward_model = models.ForeignKey(
        "rewardmodel.RewardModel", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    url = models.CharField(
        max_length=500, blank=True, help_text="Base URL, e.g. http://host:8080/v1"
    )
    model = models.CharField(max_length=200, blank=True)
    template = models.TextField(blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="machine_annotator"
    )
    # Hybrid routing: prompts this machine is at least this confident about are pre-judged
    # and audited by humans at audit_rate; null: hybrid routing off.
    hybrid_threshold = models.FloatField(null=True, blank=True)
    audit_rate = models.FloatField(default=0.1)
    calibration = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="machine_annotator_name"),
            models.CheckConstraint(
                condition=Q(audit_rate__gte=0) & Q(audit_rate__lte=1),
                name="machine_annotator_audit_rate_share",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.kind})"

from django.conf import settings
from django.db import models

from core.artifacts import artifact_path_resolve


class RewardModel(models.Model):
    """A trained reward model that can score completions and be optimised against by PPO.

    Rows are created when a reward-model run succeeds (or by hand in the admin for a model
    trained elsewhere); the directory loads with ``AutoModelForSequenceClassification``.
    """

    name = models.CharField(max_length=200, unique=True)
    path = models.CharField(
        max_length=500, help_text="Model directory; relative paths are under ARTIFACTS_DIR."
    )
    base_model = models.CharField(max_length=500, blank=True)
    snapshot = models.ForeignKey(
        "exports.DatasetSnapshot",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reward_models",
    )
    training_run = models.OneToOneField(
        "training.TrainingRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registered_reward_model",
    )
    reward_offset = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Held-out evaluation.")
    card = models.JSONField(default=dict, blank=True, help_text="rankwise_card.json")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return self.name

    @property
    def resolved_path(self):
        return artifact_path_resolve(self.path)

    @property
    def validation_accuracy(self) -> float | None:
        value = (self.metrics.get("validation") or {}).get("accuracy")
        return value if isinstance(value, (int, float)) else None

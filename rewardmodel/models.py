"""The registry of trained models: what a finished run produced, or a model trained elsewhere.

Two kinds, one shape (``TrainedModel``): a reward model (scores completions; PPO optimises
against it) and a policy (generates the next round of completions; ``training.Policy``).
Each kind keeps its own table, so existing ids (in API URLs, and in the append-only audit
log) stay what they were; what they share (fields, registration, the audit record) is
written once, here and in ``rewardmodel.services``. The ``rewardmodel`` app is the registry;
``training`` stands on it.
"""

from django.conf import settings
from django.db import models

from core.artifacts import artifact_path_resolve


class TrainedModel(models.Model):
    """A registered model directory; ``KIND`` names the kind (audit actions, the API)."""

    class Kind(models.TextChoices):
        REWARD_MODEL = "reward_model", "Reward model"
        POLICY = "policy", "Policy"

    KIND: str = ""

    name = models.CharField(max_length=200, unique=True)
    path = models.CharField(
        max_length=500, help_text="Model directory; relative paths are under ARTIFACTS_DIR."
    )
    base_model = models.CharField(max_length=500, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Held-out evaluation.")
    card = models.JSONField(default=dict, blank=True, help_text="rankwise_card.json")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-id"]

    def __str__(self):
        return self.name

    @property
    def resolved_path(self):
        return artifact_path_resolve(self.path)

    def project_of(self):
        """The project the model belongs to (its training data's), if any."""
        return None


class RewardModel(TrainedModel):
    """A trained reward model that can score completions and be optimised against by PPO.

    Rows are created when a reward-model run succeeds (or by hand in the admin for a model
    trained elsewhere); the directory loads with ``AutoModelForSequenceClassification``.
    """

    KIND = TrainedModel.Kind.REWARD_MODEL

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

    class Meta(TrainedModel.Meta):
        pass

    @property
    def validation_accuracy(self) -> float | None:
        value = (self.metrics.get("validation") or {}).get("accuracy")
        return value if isinstance(value, (int, float)) else None

    def project_of(self):
        return self.snapshot.project if self.snapshot_id else None

"""Stored results of the agreement maths: per-prompt consensus, annotator weights, the report.

Everything here except Adjudication is derived data: a full recompute rebuilds it from the
annotations, so these rows carry no history. Adjudications are human decisions and are never
rewritten; each one is an audit row and the newest per prompt wins.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class PromptConsensus(models.Model):
    """The Bradley-Terry consensus of one prompt's judgements."""

    # No database-level foreign keys: a full recompute rewrites 100k rows, and PostgreSQL's
    # deferred checks of two constraints per row were a fifth of its time. These rows are
    # derived and rebuilt; Django still cascades deletes of prompts and projects to them.
    prompt = models.OneToOneField(
        "annotate.Prompt",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="consensus",
        db_constraint=False,
    )
    # Denormalised so the review queue and the export filter a project without a join.
    project = models.ForeignKey(
        "annotate.Project",
        on_delete=models.CASCADE,
        related_name="prompt_consensus",
        db_constraint=False,
    )
    ranking = models.JSONField(help_text="Tie groups of completion ids, best first.")
    pair_probs = models.JSONField(
        help_text='{"A>B": P(A beats B)} for every completion pair, in completion order; '
        "P(B>A) is 1 - P(A>B)."
    )
    scores = models.JSONField(help_text="Bradley-Terry log-strength per completion id.")
    agreement = models.FloatField(
        null=True, blank=True, help_text="Per-prompt agreement; null when undefined."
    )
    agreement_reason = models.CharField(max_length=200, blank=True)
    n_judgements = models.PositiveSmallIntegerField(help_text="Ranked (not skipped) judgements.")
    gold_missed = models.BooleanField(
        default=False, help_text="Gold prompt whose consensus contradicts the gold ranking."
    )
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "prompt consensus"
        indexes = [models.Index(fields=["project", "agreement"])]

    def __str__(self):
        return f"consensus of {self.prompt_id}"


class Adjudication(models.Model):
    """A reviewer's ranking for a prompt; overrides the computed consensus."""

    prompt = models.ForeignKey(
        "annotate.Prompt", on_delete=models.CASCADE, related_name="adjudications"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="adjudications"
    )
    ranking = models.JSONField(help_text="Tie groups of completion ids, best first.")
    comment = models.TextField(blank=True)
    # The judging extras (docs/judging.md), as on an Annotation: a pairwise project's strength
    # and tie kind, rank gaps, and any dimension the reviewer decided ({key: choice}).
    strength = models.PositiveSmallIntegerField(null=True, blank=True)
    tie_kind = models.CharField(max_length=10, blank=True, default="")
    gaps = models.JSONField(default=list, blank=True)
    dimensions = models.JSONField(default=dict, blank=True)
    # What the reviewer saw, so a later audit can tell what was overridden.
    consensus_ranking = models.JSONField(null=True, blank=True)
    consensus_agreement = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["prompt_id", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(ranking=[]), name="adjudication_ranked"),
        ]

    def __str__(self):
        return f"{self.reviewer} on {self.prompt_id}"


class AnnotatorScore(models.Model):
    """One annotator's reliability in one project, from the last full recompute."""

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="annotator_scores"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator_scores"
    )
    weight = models.FloatField(help_text="Consensus weight (Dawid-Skene style reliability).")
    agreement = models.FloatField(null=True, blank=True, help_text="Agreement with the others.")
    n_judgements = models.PositiveIntegerField(default=0)
    stats = models.JSONField(default=dict, help_text="The annotator's row of the report.")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["project_id", "-weight"]
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="annotator_score_unique"),
        ]

    def __str__(self):
        return f"{self.annotator} in {self.project_id}: {self.weight:.2f}"


class ProjectAgreement(models.Model):
    """The last full report of a project, so pages and the API do not recompute per request."""

    project = models.OneToOneField(
        "annotate.Project", on_delete=models.CASCADE, primary_key=True, related_name="agreement"
    )
    report = models.JSONField()
    n_prompts = models.PositiveIntegerField(default=0)
    n_judgements = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()
    # Set when a judgement changes after computed_at: the per-prompt consensus is current, the
    # project-wide figures (and annotator weights) are not until the next full recompute.
    stale = models.BooleanField(default=False)

    def __str__(self):
        return f"agreement of {self.project_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class PendingConsensus(models.Model):
    """A prompt whose judgements changed after its consensus was computed.

    Written in the submission's own transaction (an outbox row), so the change cannot be lost
    between the commit and the worker; ``services.incremental.project_consensus_flush``
    recomputes and deletes these rows.
    """

    # Plain columns, no database foreign keys: the row is written on the annotators' hot path
    # and deleted a second later; Django still cascades deletes of prompts and projects.
    prompt = models.OneToOneField(
        "annotate.Prompt",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        db_constraint=False,
    )
    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    queued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "pending consensus"

    def __str__(self):
        return f"prompt {self.prompt_id} pending"

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotate.constants import (
    DEFAULT_FLAGS,
    DEFAULT_RATING_SCALE,
    JUDGING_MODES,
    JUDGING_PAIRWISE,
    JUDGING_RANKING,
    RATIONALE_CHOICES,
    RATIONALE_OFF,
)
from annotate.models_jobs import ImportJob  # noqa: F401  (annotate.models.ImportJob)


def default_flags():
    return [dict(flag) for flag in DEFAULT_FLAGS]


def default_rating_scale():
    return dict(DEFAULT_RATING_SCALE)


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    instructions = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    ties_allowed = models.BooleanField(default=True)
    require_all_placed = models.BooleanField(
        default=True, help_text="Every output must be put in a rank before submitting."
    )
    rating_scale = models.JSONField(
        default=default_rating_scale,
        help_text='Per-output rating, e.g. {"min": 1, "max": 7, "label": "Overall quality"}; '
        "empty to rate nothing.",
        blank=True,
    )
    flags = models.JSONField(
        default=default_flags, blank=True, help_text='List of {"key", "label"} flags per output.'
    )
    overlap = models.PositiveSmallIntegerField(
        default=3, help_text="How many annotators judge each prompt."
    )
    max_overlap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Adaptive overlap ceiling: low-agreement prompts may be given to up to this many "
        "annotators. Empty = overlap (adaptive overlap off).",
    )
    agreement_threshold = models.FloatField(
        default=0.6, help_text="Prompts whose agreement falls below this get more annotators."
    )
    gold_rate = models.FloatField(
        default=0.0,
        help_text="Share of tasks (0..1) drawn from gold prompts, to check annotators "
        "against a reference ranking.",
    )
    claim_timeout_minutes = models.PositiveIntegerField(default=30)
    # How a judgement is given (docs/judging.md); annotate.services.judging_settings checks the
    # JSON settings and how they fit together.
    judging_mode = models.CharField(max_length=20, default=JUDGING_RANKING, choices=JUDGING_MODES)
    strength_levels = models.JSONField(
        default=list, blank=True, help_text="Pairwise strength labels, weakest first (key 1)."
    )
    gap_levels = models.JSONField(
        default=list, blank=True, help_text="Ranking mode: labels of the gaps between rank groups."
    )
    dimensions = models.JSONField(
        default=list, blank=True, help_text='Judged besides the overall: [{"key", "name", ...}].'
    )
    rationale = models.CharField(max_length=10, default=RATIONALE_OFF, choices=RATIONALE_CHOICES)

    class Priority(models.TextChoices):
        FIFO = "fifo", "Closest to completion, then oldest"
        RANDOM = "random", "Random (a stored random key)"
        UNCERTAINTY = "uncertainty", "Most informative first (the reward model's uncertainty)"

    # random and uncertainty order the queue by Prompt.priority, which loop.services stores
    priority = models.CharField(max_length=12, choices=Priority.choices, default=Priority.FIFO)
    shown_k = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Show at most K.")
    # Machine annotators' judgements (Annotation.Source.MACHINE) count in consensus only if set.
    machine_in_consensus = models.BooleanField(default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(
                condition=Q(claim_timeout_minutes__gte=1), name="project_claim_timeout_positive"
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=1), name="project_gold_rate_share"
            ),
            models.CheckConstraint(
                condition=Q(max_overlap__isnull=True) | Q(max_overlap__gte=1),
                name="project_max_overlap_positive",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def flag_keys(self) -> list[str]:
        return [flag["key"] for flag in self.flags or []]

    @property
    def is_pairwise(self) -> bool:
        return self.judging_mode == JUDGING_PAIRWISE

    @property
    def overlap_ceiling(self) -> int:
        """The most annotators any prompt of this project may get."""
        return max(self.overlap, self.max_overlap or 0)


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self):
        return f"{self.user} in {self.project}"


class Prompt(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(max_length=200)
    # Exactly one of text / messages carries the prompt; messages is a list of {role, content}.
    text = models.TextField(blank=True)
    messages = models.JSONField(null=True, blank=True)
    # The text (or each message's content) rendered to sanitised HTML once, when stored
    # (annotate.rendering); "" / null: not rendered yet, the readers render it then.
    html = models.TextField(blank=True, default="")
    messages_html = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    is_gold = models.BooleanField(default=False)
    gold_ranking = models.JSONField(
        null=True, blank=True, help_text="Reference ranking (tie groups of completion ids)."
    )
    target_overlap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Annotators wanted for this prompt; empty = the project's overlap. Raised for "
        "low-agreement prompts, up to the project's max overlap.",
    )
    # Denormalised count of non-skipped annotations, so the work queue can walk an index in
    # "closest to completion" order. The Annotation table stays the truth: the queue re-counts
    # under the row lock and repairs it; bulk writers call prompt_counters_refresh().
    submitted_count = models.PositiveIntegerField(default=0)
    # Higher first when the project's priority is random or uncertainty; lineage names the
    # model (and rule) that set it and chose shown_ids, the completions shown (null: all).
    priority = models.FloatField(default=0.0, db_default=0.0)  # bulk imports name no value
    priority_lineage = models.JSONField(null=True, blank=True)
    shown_ids = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="prompt_external_id_unique"
            ),
            models.CheckConstraint(
                condition=~Q(text="") | Q(messages__isnull=False), name="prompt_has_content"
            ),
            models.CheckConstraint(
                # 0: pre-judged by a confident machine and not drawn for audit (loop.hybrid)
                condition=Q(target_overlap__isnull=True) | Q(target_overlap__gte=0),
                name="prompt_target_overlap_positive",
            ),
        ]
        indexes = [
            # The queue's main lane: prompts at the project's overlap, most-submitted first.
            models.Index(
                fields=["project", "is_gold", "-submitted_count", "id"],
                condition=Q(target_overlap__isnull=True),
                name="prompt_queue_idx",
            ),
            # The same lane when the project orders by stored priority.
            models.Index(
                fields=["project", "is_gold", "-priority", "-submitted_count", "id"],
                condition=Q(target_overlap__isnull=True),
                name="prompt_priority_idx",
            ),
            # The few prompts whose overlap was raised for low agreement.
            models.Index(
                fields=["project", "is_gold"],
                condition=Q(target_overlap__isnull=False),
                name="prompt_queue_raised_idx",
            ),
        ]

    def __str__(self):
        return f"{self.project.slug}/{self.external_id}"

    def overlap_target(self, project: Project | None = None) -> int:
        """Annotators wanted for this prompt (pass the project to save a query)."""
        if self.target_overlap is not None:
            return self.target_overlap
        return (project or self.project).overlap

    @property
    def is_conversation(self) -> bool:
        return self.messages is not None

    @property
    def display_text(self) -> str:
        if self.messages is None:
            return self.text
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in self.messages)

    @property
    def title_text(self) -> str:
        """What names the prompt in a list: its text, or a conversation's last user turn."""
        if self.messages is None:
            return self.text
        users = [m for m in self.messages if m.get("role") in ("user", "prompter")]
        last = users[-1] if users else (self.messages[-1] if self.messages else {})
        return str(last.get("content", ""))


class Completion(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="completions")
    external_id = models.CharField(max_length=100, help_text="Id within the prompt, e.g. A.")
    position = models.PositiveSmallIntegerField(help_text="Order in the imported file.")
    text = models.TextField()
    html = models.TextField(blank=True, default="", help_text="text rendered and sanitised")
    model_name = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["prompt_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "external_id"], name="completion_external_id_unique"
            ),
            models.UniqueConstraint(
                fields=["prompt", "position"], name="completion_position_unique"
            ),
        ]

    def __str__(self):
        return f"{self.prompt_id}:{self.external_id}"


class Annotation(models.Model):
    """One annotator's judgement of one prompt.

    ``ranking`` is a list of tie groups of completion external ids, best first:
    ``[["A"], ["C"], ["D", "E"], ["B"]]`` reads A > C > D = E > B.
    """

    class Source(models.TextChoices):
        UI = "ui", "Annotation UI"
        API = "api", "API"
        IMPORT = "import", "Import"
        REVIEW = "review", "Review"
        # agreement.simulation's demo judgements: labelled, and left out of exports unless asked
        SIMULATED = "simulated", "Simulated annotator"
        # a machine annotator (loop.judges): kept out of consensus and exports unless asked
        MACHINE = "machine", "Machine annotator"

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    ranking = models.JSONField(default=list, blank=True)
    ratings = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    skipped = models.BooleanField(default=False)
    skip_reason = models.TextField(blank=True)
    time_ms = models.PositiveIntegerField(null=True, blank=True)
    shown_order = models.JSONField(default=list, blank=True)
    # Beyond the ranking, which stays canonical (docs/judging.md; annotate.judgements checks):
    strength = models.PositiveSmallIntegerField(null=True, blank=True)
    tie_kind = models.CharField(max_length=10, blank=True, default="")
    gaps = models.JSONField(default=list, blank=True)
    dimensions = models.JSONField(default=dict, blank=True)
    rationale = models.TextField(blank=True, default="")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UI)
    # The model version that chose this task (the prompt's priority_lineage when judged), and
    # a machine judge's P(its ranking's first pair is right).
    lineage = models.JSONField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "annotator"], name="annotation_unique"),
            models.CheckConstraint(
                condition=Q(skipped=True) | ~Q(ranking=[]), name="annotation_ranked_or_skipped"
            ),
        ]
        indexes = [models.Index(fields=["annotator", "created_at"])]

    def __str__(self):
        return f"{self.annotator} on {self.prompt_id}"


class AnnotationRevision(models.Model):
    """Audit row: the full state of an annotation after each change, and who made it."""

    class Action(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        IMPORTED = "imported"

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    state = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation_id", "id"]

    def __str__(self):
        return f"{self.action} {self.annotation_id} at {self.created_at:%Y-%m-%d %H:%M}"


class Claim(models.Model):
    """The task an annotator holds in a project: at most one per (project, annotator).

    A live claim (``expires_at`` in the future) reserves one of the prompt's overlap slots; an
    expired one reserves nothing and is overwritten by the annotator's next claim, so expiry
    needs no sweeper.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="claims")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="claims")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims"
    )
    # Completion external ids in the order this annotator is shown them (labels A, B, ...).
    shown_order = models.JSONField(default=list)
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="claim_one_per_annotator"),
        ]
        indexes = [models.Index(fields=["prompt", "expires_at"], name="claim_prompt_live_idx")]

    def __str__(self):
        return f"{self.user} holds {self.prompt_id} until {self.expires_at:%H:%M}"

    def is_live(self, now) -> bool:
        return self.expires_at > now

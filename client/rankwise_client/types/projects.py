"""Users, projects, members, imports, prompts, judgements, the agreement report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rankwise_client.types.base import ApiObject

if TYPE_CHECKING:
    from rankwise_client.types.snapshots import Snapshot


# --- accounts and projects ---------------------------------------------------------------------


@dataclass(kw_only=True)
class User(ApiObject):
    id: int | None = None
    username: str = ""
    email: str = ""
    is_active: bool = True
    is_superuser: bool = False
    roles: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    date_joined: datetime | None = None
    last_login: datetime | None = None


@dataclass(kw_only=True)
class Member(ApiObject):
    username: str = ""
    roles: list[str] = field(default_factory=list)
    is_active: bool = True
    joined: datetime | None = None


@dataclass(kw_only=True)
class ImportResult(ApiObject):
    lines: int = 0
    prompts_created: int = 0
    prompts_unchanged: int = 0
    completions_created: int = 0
    annotations_created: int = 0
    annotations_unchanged: int = 0
    annotators: int = 0


@dataclass(kw_only=True)
class ImportJob(ApiObject):
    """An upload too large to import in the request, imported by the worker; the client's
    ``import_file`` follows it to its end and returns its ``result``."""

    id: int | None = None
    url: str = ""
    project: str = ""
    status: str = ""
    format: str = ""
    annotator: str = ""
    file_name: str = ""
    file_size: int | None = None
    lines_read: int = 0
    error_count: int = 0
    prompts_created: int = 0
    errors: list[dict] = field(default_factory=list)  # [{"line", "field", "message"}]
    errors_truncated: bool = False
    result: ImportResult | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None
    _nested: ClassVar[dict[str, type]] = {"result": ImportResult}
    FINISHED: ClassVar[frozenset[str]] = frozenset({"succeeded", "failed"})


@dataclass(kw_only=True)
class Project(ApiObject):
    id: int | None = None
    slug: str = ""
    name: str = ""
    instructions: str = ""
    ties_allowed: bool | None = None
    require_all_placed: bool | None = None
    rating_scale: dict | None = None
    flags: list[dict] = field(default_factory=list)
    overlap: int | None = None
    claim_timeout_minutes: int | None = None
    # docs/judging.md: "ranking" or "pairwise_strength", its scale, rank gaps, dimensions
    judging_mode: str = ""
    strength_levels: list[str] = field(default_factory=list)
    gap_levels: list[str] = field(default_factory=list)
    dimensions: list[dict] = field(default_factory=list)
    rationale: str = ""
    prompt_count: int | None = None
    annotation_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def refresh(self) -> Project:
        return self._refresh_from(self.client.projects.get(self.slug))

    def update(self, **changes) -> Project:
        return self._refresh_from(self.client.projects.update(self.slug, **changes))

    def delete(self) -> None:
        self.client.projects.delete(self.slug)

    def import_file(self, path, **kwargs) -> ImportResult:
        return self.client.projects.import_file(self.slug, path, **kwargs)

    def import_jobs(self) -> Iterator[ImportJob]:
        return self.client.projects.import_jobs(self.slug)

    def members(self) -> list[Member]:
        return self.client.projects.members(self.slug)

    def add_members(self, usernames) -> list[Member]:
        return self.client.projects.add_members(self.slug, usernames)

    def remove_member(self, username: str) -> None:
        self.client.projects.remove_member(self.slug, username)

    def prompts(self, **filters) -> Iterator[Prompt]:
        return self.client.projects.prompts(self.slug, **filters)

    def prompt(self, prompt_id: int) -> Prompt:
        return self.client.projects.prompt(self.slug, prompt_id)

    def judgements(self, **filters) -> Iterator[Judgement]:
        return self.client.projects.judgements(self.slug, **filters)

    def agreement(self) -> AgreementReport:
        return self.client.projects.agreement(self.slug)

    def recompute_agreement(self) -> None:
        self.client.projects.recompute_agreement(self.slug)

    def create_snapshot(self, format: str = "rankings", **options) -> Snapshot:
        return self.client.snapshots.create(self.slug, format=format, **options)

    def snapshots(self, **filters) -> Iterator[Snapshot]:
        return self.client.snapshots.list(project=self.slug, **filters)


@dataclass(kw_only=True)
class AuditEvent(ApiObject):
    """One recorded change (role, membership, token, project settings, import, export,
    adjudication, training run, model registration): who, when, what, before/after."""

    id: int | None = None
    created_at: datetime | None = None
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    object_repr: str = ""
    project: str = ""
    project_id: int | None = None
    before: dict | None = None
    after: dict | None = None
    source: str = ""
    request_id: str = ""


# --- prompts and judgements --------------------------------------------------------------------


@dataclass(kw_only=True)
class Completion(ApiObject):
    id: str = ""
    position: int | None = None
    text: str = ""
    model: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(kw_only=True)
class Prompt(ApiObject):
    id: int | None = None
    external_id: str = ""
    text: str = ""
    messages: list[dict] | None = None
    metadata: dict = field(default_factory=dict)
    is_gold: bool = False
    gold_ranking: list[list[str]] | None = None
    completions: list[Completion] = field(default_factory=list)
    annotation_count: int | None = None
    created_at: datetime | None = None
    _nested: ClassVar[dict[str, type]] = {"completions": Completion}


@dataclass(kw_only=True)
class Judgement(ApiObject):
    """One annotator's ranking (or skip) of a prompt: an annotation in the API."""

    id: int | None = None
    prompt: int | None = None
    prompt_external_id: str = ""
    annotator: str = ""
    ranking: list[list[str]] = field(default_factory=list)
    ratings: dict[str, int] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    comment: str = ""
    skipped: bool = False
    skip_reason: str = ""
    time_ms: int | None = None
    shown_order: list[str] = field(default_factory=list)
    letters: dict[str, str] = field(default_factory=dict)  # completion id -> letter seen
    # pairwise strength (0: a tie) and tie kind, rank gaps, per-dimension choices, rationale
    strength: int | None = None
    tie_kind: str = ""
    gaps: list[int | None] = field(default_factory=list)
    dimensions: dict[str, dict] = field(default_factory=dict)
    rationale: str = ""
    source: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def ranking_in_letters(self) -> str:
        """``"A > C = D > B"``: the ranking in the letters its annotator saw."""
        by_id = self.letters
        return " > ".join(" = ".join(by_id.get(c, c) for c in group) for group in self.ranking)


# --- agreement ---------------------------------------------------------------------------------


@dataclass(kw_only=True)
class AnnotatorAgreement(ApiObject):
    annotator: str = ""
    judgements: int = 0
    ranked: int = 0
    skipped: int = 0
    skip_rate: float | None = None
    pairwise_agreement: float | None = None
    consensus_agreement: float | None = None
    gold_accuracy: float | None = None
    median_time_ms: float | None = None
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class AgreementReport(ApiObject):
    """The project's agreement report; a figure that cannot be computed is None and
    ``reasons`` says why (``reasons["krippendorff_alpha.ranking"]``)."""

    project: str = ""
    pairwise_agreement: float | None = None
    pairwise_agreement_with_ties: float | None = None
    tie_rate: float | None = None
    kendall_w_mean: float | None = None
    kendall_tau_b_mean: float | None = None
    krippendorff_alpha: dict = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    annotators: list[AnnotatorAgreement] = field(default_factory=list)
    confidence_intervals: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    _nested: ClassVar[dict[str, type]] = {"annotators": AnnotatorAgreement}

    @property
    def krippendorff_alpha_ranking(self) -> float | None:
        return (self.krippendorff_alpha or {}).get("ranking")

    def headline(self) -> dict[str, float | None]:
        return {
            "pairwise_agreement": self.pairwise_agreement,
            "pairwise_agreement_with_ties": self.pairwise_agreement_with_ties,
            "tie_rate": self.tie_rate,
            "kendall_w_mean": self.kendall_w_mean,
            "krippendorff_alpha_ranking": self.krippendorff_alpha_ranking,
        }

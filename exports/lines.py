"""From one prompt and its judgements to exported lines: plain data in, plain dicts out.

No database here, so the rules of what a line holds (which pairs, which margin, which split)
can be tested and benchmarked on their own. ``exports.bundles`` reads the rows; ``exports.sinks``
writes the lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exports.consensus import Consensus, dimension_consensus, fallback_consensus
from exports.options import ExportOptions
from exports.sources import label_source, machine_filter
from exports.splits import split_for


@dataclass
class CompletionRow:
    external_id: str
    text: str
    model_name: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass
class JudgementRow:
    annotator: str
    ranking: list[list[str]]
    ratings: dict = field(default_factory=dict)
    flags: dict = field(default_factory=dict)
    comment: str = ""
    skipped: bool = False
    skip_reason: str = ""
    time_ms: int | None = None
    shown_order: list = field(default_factory=list)
    created_at: datetime | None = None
    source: str = ""
    strength: int | None = None
    tie_kind: str = ""
    gaps: list = field(default_factory=list)
    dimensions: dict = field(default_factory=dict)
    rationale: str = ""
    lineage: dict | None = None  # the model version that chose the task (loop.services)


@dataclass
class PromptBundle:
    id: int
    external_id: str
    text: str
    messages: list[dict[str, str]] | None
    completions: list[CompletionRow]
    annotations: list[JudgementRow]  # every judgement up to the snapshot's data_as_of
    metadata: dict = field(default_factory=dict)
    gold_ranking: list[list[str]] | None = None
    consensus: Consensus | None = None
    reviewed: bool = False
    adjudicated: bool = False  # consensus is a reviewer's ranking, not computed from judgements

    @property
    def completion_ids(self) -> list[str]:
        return [c.external_id for c in self.completions]


# Why a prompt was left out; the counts go into the snapshot's row_counts.
EXCLUDED_NOT_IN_RANGE = "no_judgement_in_date_range"
EXCLUDED_FLAGGED = "flagged"
EXCLUDED_NOT_REVIEWED = "not_reviewed"
EXCLUDED_LOW_AGREEMENT = "below_min_agreement"
EXCLUDED_NO_CONSENSUS = "no_consensus"
EXCLUDED_ONLY_SIMULATED = "only_simulated_judgements"
SIMULATED = "simulated"  # Annotation.Source.SIMULATED


@dataclass
class Selection:
    """What of one prompt goes into the export, or why none of it does."""

    judgements: list[JudgementRow]
    split: str = ""
    excluded: str | None = None
    consensus: Consensus | None = None  # the one the lines use (margins, consensus mode)


def _people_only(bundle: PromptBundle) -> tuple[list[JudgementRow], Consensus | None]:
    """The prompt's judgements without the simulated ones, and a consensus that owes them
    nothing: the stored one was computed over every judgement, theirs included, so a prompt
    that mixes both gets the fallback over the people's rankings (a reviewer's adjudicated
    ranking stays: it is nobody's vote)."""
    people = [a for a in bundle.annotations if a.source != SIMULATED]
    if bundle.adjudicated or len(people) == len(bundle.annotations):
        return people, bundle.consensus
    rankings = [a.ranking for a in people if not a.skipped and a.ranking]
    return people, fallback_consensus(bundle.completion_ids, rankings) if rankings else None


def select(bundle: PromptBundle, options: ExportOptions) -> Selection:
    annotations, consensus = bundle.annotations, bundle.consensus
    if not options.include_simulated:
        # Simulated judgements (the demo's) are not people's: out of every mode unless asked
        # for, consensus included; a prompt that only they judged is out too.
        annotations, consensus = _people_only(bundle)
        if bundle.annotations and not annotations:
            return Selection([], excluded=EXCLUDED_ONLY_SIMULATED)
    dated = options.annotated_from is not None or options.annotated_to is not None
    judgements = [a for a in annotations if not dated or options.in_date_range(a.created_at)]
    judgements, excluded = machine_filter(judgements, options.include_machine)
    if excluded:
        return Selection([], excluded=excluded)
    if dated and not judgements:
        return Selection([], excluded=EXCLUDED_NOT_IN_RANGE)
    if options.exclude_flags:
        banned = set(options.exclude_flags)
        for a in annotations:
            if any(banned.intersection(keys) for keys in a.flags.values()):
                return Selection([], excluded=EXCLUDED_FLAGGED)
    if options.only_reviewed and not bundle.reviewed:
        return Selection([], excluded=EXCLUDED_NOT_REVIEWED)
    if options.min_agreement is not None:
        agreement = consensus.agreement if consensus else None
        if agreement is None or agreement < options.min_agreement:
            return Selection([], excluded=EXCLUDED_LOW_AGREEMENT)
    if options.mode == "consensus" and not (consensus and consensus.ranking):
        return Selection([], excluded=EXCLUDED_NO_CONSENSUS)

    held = set(options.holdout_annotators)
    if held and any(a.annotator in held and not a.skipped for a in judgements):
        split = "test"
    else:
        split = split_for(options.seed, bundle.external_id, options.split)
    return Selection(judgements, split, consensus=consensus)


# --- pairwise ---------------------------------------------------------------------------------


def _reply(text: str, conversational: bool) -> Any:
    return [{"role": "assistant", "content": text}] if conversational else text


def _prompt_value(bundle: PromptBundle, conversational: bool) -> Any:
    if bundle.messages is not None:
        return bundle.messages
    if conversational:
        # One snapshot holds one prompt type, or Arrow and TRL cannot load it as one column.
        return [{"role": "user", "content": bundle.text}]
    return bundle.text


def _margin_weight(consensus: Consensus | None, better: str, worse: str) -> tuple[float, float]:
    """margin = 2p - 1 and weight = max(p, 1 - p), p = P(better beats worse) by the consensus.

    Unanimous pairs get margin 1 and weight 1, split votes margin 0 and weight 0.5; an
    annotator's pair that goes against the majority gets a negative margin.
    """
    p = consensus.prob(better, worse) if consensus else None
    if p is None:
        return 0.0, 1.0
    return round(2.0 * p - 1.0, 4), round(max(p, 1.0 - p), 4)


def _tie_weight(consensus: Consensus | None, a: str, b: str) -> float:
    """A tie is as credible as the consensus finds the pair close: 1 at p = 0.5."""
    p = consensus.prob(a, b) if consensus else None
    return 1.0 if p is None else round(1.0 - abs(2.0 * p - 1.0), 4)


def judged_margin(judgement: JudgementRow, better: str, worse: str) -> float:
    """How far apart the annotator put ``better`` and ``worse``, on their own scale.

    Pairwise strength: the level (1 = weakest), negative if they preferred ``worse``; a tie is
    0. Ranking: the sum of the gap levels between the two groups, an unmarked gap counting as
    the weakest (1), so without gaps it is how many rank groups apart they are.
    """
    group = {cid: i for i, members in enumerate(judgement.ranking) for cid in members}
    if better not in group or worse not in group:
        return 0.0
    low, high = sorted((group[better], group[worse]))
    if judgement.strength is not None:
        distance = judgement.strength if high > low else 0
    else:
        gaps = judgement.gaps or [None] * (len(judgement.ranking) - 1)
        distance = sum(g or 1 for g in gaps[low:high])
    return float(distance if group[better] <= group[worse] else -distance)


def _judged_consensus_margin(
    judgements: list[JudgementRow], better: str, worse: str, consensus: Consensus | None
) -> float:
    """The annotators' judged margins for the pair, averaged (ties count 0); a reviewer's
    adjudicated strength or gaps instead where they decided them."""
    decided = consensus.judged if consensus else None
    if decided and (decided.get("strength") is not None or decided.get("gaps")):
        row = JudgementRow("", consensus.ranking, strength=decided.get("strength"),
                           gaps=decided.get("gaps") or [])  # fmt: skip
        return judged_margin(row, better, worse)
    margins = [judged_margin(a, better, worse) for a in judgements if not a.skipped]
    return round(sum(margins) / len(margins), 4) if margins else 0.0


def ranking_pairs(ranking: list[list[str]], keep_ties: bool) -> Iterator[tuple[str, str, bool]]:
    """(better, worse, tie) for every pair a tie-group ranking implies, best groups first."""
    for i, upper in enumerate(ranking):
        if keep_ties:
            for j, a in enumerate(upper):
                for b in upper[j + 1 :]:
                    yield a, b, True
        for lower in ranking[i + 1 :]:
            for better in upper:
                for worse in lower:
                    yield better, worse, False


def pairwise_rows(
    bundle: PromptBundle,
    selection: Selection,
    options: ExportOptions,
    conversational: bool,
    dimensions: tuple[str, ...] = (),
) -> Iterator[dict[str, Any]]:
    """TRL preference rows: prompt, chosen, rejected, then Rankwise's own columns.

    With ``options.dimension_lines``, each of ``dimensions`` (the project's keys, in its order)
    follows the overall rows with its own, tagged ``dimension``: chosen and rejected from that
    dimension's choice, margin and weight from its strength or gaps and its own consensus.
    """
    yield from _rows(bundle, selection, options, conversational, None)
    if options.dimension_lines:
        for key in dimensions:
            yield from _rows(bundle, selection, options, conversational, key)


def _dimension_view(judgements: list[JudgementRow], key: str) -> list[JudgementRow]:
    """Each judgement's choice on one dimension, as a judgement of its own (none if unjudged)."""
    views = []
    for a in judgements:
        choice = (a.dimensions or {}).get(key)
        if a.skipped or not isinstance(choice, dict) or not choice.get("ranking"):
            continue
        views.append(JudgementRow(
            a.annotator, choice["ranking"], created_at=a.created_at, source=a.source,
            strength=choice.get("strength"), tie_kind=choice.get("tie_kind") or "",
            gaps=choice.get("gaps") or [],
        ))  # fmt: skip
    return views


def _rows(
    bundle: PromptBundle,
    selection: Selection,
    options: ExportOptions,
    conversational: bool,
    dimension: str | None,
) -> Iterator[dict[str, Any]]:
    prompt = _prompt_value(bundle, conversational)
    texts = {c.external_id: c.text for c in bundle.completions}
    judgements = selection.judgements
    consensus = selection.consensus
    if dimension is not None:
        # A dimension has no stored consensus: the documented fallback over its choices.
        judgements = _dimension_view(judgements, dimension)
        rankings = [a.ranking for a in judgements]
        consensus = dimension_consensus(consensus, bundle.completion_ids, rankings, dimension)
    agreement = None
    if consensus is not None and consensus.agreement is not None:
        agreement = round(consensus.agreement, 4)
    keep_ties = options.ties == "keep"
    per_annotator = options.mode == "all"
    judged = options.margin == "judged"
    if per_annotator:
        sources = [(a, a.ranking) for a in judgements if not a.skipped]
    elif consensus is not None and consensus.ranking:
        sources = [(None, consensus.ranking)]
    else:
        sources = []
    for judgement, ranking in sources:
        for better, worse, tie in ranking_pairs(ranking, keep_ties):
            if tie:
                margin, weight = 0.0, _tie_weight(consensus, better, worse)
            else:
                margin, weight = _margin_weight(consensus, better, worse)
            if judged and judgement is not None:
                margin = judged_margin(judgement, better, worse)
            elif judged:
                margin = _judged_consensus_margin(judgements, better, worse, consensus)
            row = {
                "prompt": prompt,
                "chosen": _reply(texts[better], conversational),
                "rejected": _reply(texts[worse], conversational),
                "prompt_id": bundle.external_id,
                "margin": margin,
                "weight": weight,
                "agreement": agreement,
            }
            if per_annotator:
                row["annotator"] = judgement.annotator
            if keep_ties:
                row["tie"] = tie
            if dimension is not None:
                row["dimension"] = dimension
            row["source"] = label_source([judgement] if per_annotator else selection.judgements)
            row["split"] = selection.split
            yield row

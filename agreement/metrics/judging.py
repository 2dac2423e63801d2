"""Agreement on how much better and on what: pairwise strength and per-dimension judgements.

Pure numpy. A pairwise judgement is read as a signed value on the project's scale -n..+n:
negative when the first completion (response1) won, the strength as magnitude, 0 for a tie
(HelpSteer3's convention). On those values:

- direction agreement: share of within-prompt annotator pairs whose signs (-, 0, +) match;
  ``direction_agreement_strict`` counts only pairs where neither annotator tied;
- magnitude: Krippendorff's alpha, interval and ordinal, over the signed values (prompts are
  the units; agreement.metrics.alpha), and quadratic-weighted Cohen's kappa for each pair of
  annotators over the 2n + 1 categories: kappa_w = 1 - sum(w * O) / sum(w * E), w_ij =
  (i - j)^2, O the observed proportions of their shared prompts, E the product of their margins;
- tie-type confusion: within-prompt pairs where both tied, counted by (kind, kind), and pairs
  where only one tied.

Per dimension the ranking statistics of agreement.metrics.report are computed on the dimension's
choices, and ``disagrees_with_overall`` is the share of completion pairs (within one judgement)
whose preference sign on the dimension differs from the overall judgement's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from agreement.metrics._common import Estimate, put, ratio
from agreement.metrics.alpha import alpha_from_units
from agreement.metrics.records import Judgement
from agreement.metrics.report import project_report

TIE_KINDS = ("both_good", "both_bad", "unspecified")
MIN_SHARED_FOR_KAPPA = 2
RANKING_FIGURES = (
    "pairwise_agreement", "pairwise_agreement_with_ties", "tie_rate", "kendall_w_mean",
    "krippendorff_alpha", "counts",
)  # fmt: skip


def signed_value(ranking: Sequence[Sequence[str]], strength: int | None, first: str) -> int | None:
    """-strength if ``first`` won, +strength if the other did, 0 for a tie; None if unjudged."""
    if not ranking:
        return None
    if len(ranking) == 1:
        return 0
    if strength is None:
        return None
    return -int(strength) if list(ranking[0]) == [first] else int(strength)


def _rows(judgements: Iterable[Judgement], dimension: str | None):
    """(prompt, annotator, value, tie kind) of every judged pair, overall or on a dimension."""
    out = []
    for j in judgements:
        if j.skipped or len(j.completion_ids) != 2:
            continue
        choice = j.dimensions.get(dimension) if dimension else None
        if dimension and not choice:
            continue
        ranking = choice.get("ranking", ()) if choice else j.ranking
        strength = choice.get("strength") if choice else j.strength
        tie_kind = (choice.get("tie_kind") if choice else j.tie_kind) or "unspecified"
        value = signed_value(ranking, strength, j.completion_ids[0])
        if value is not None:
            out.append((j.prompt_id, j.annotator, value, tie_kind))
    return out


def weighted_kappa(a: Sequence[int], b: Sequence[int], levels: int) -> Estimate:
    """Quadratic-weighted Cohen's kappa of two annotators' values in -levels..+levels."""
    a, b = np.asarray(a, dtype=int) + levels, np.asarray(b, dtype=int) + levels
    size = 2 * levels + 1
    if a.size == 0:
        return Estimate(None, "no shared prompts")
    observed = np.zeros((size, size))
    np.add.at(observed, (a, b), 1.0)
    observed /= a.size
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    grid = np.arange(size)
    weights = (grid[:, None] - grid[None, :]) ** 2
    return ratio(
        (weights * expected).sum() - (weights * observed).sum(),
        (weights * expected).sum(),
        "both annotators gave one value throughout, so no disagreement is expected by chance",
    )


def _pairs_within_prompts(rows):
    by_prompt: dict[Any, list] = {}
    for row in rows:
        by_prompt.setdefault(row[0], []).append(row)
    for members in by_prompt.values():
        yield from combinations(sorted(members, key=lambda r: r[1]), 2)


def strength_report(judgements: Iterable[Judgement], levels: int, dimension: str | None = None):
    """Direction and magnitude agreement and tie-type confusion (module docstring)."""
    rows = _rows(judgements, dimension)
    report: dict[str, Any] = {"reasons": {}, "levels": levels, "judgements": len(rows)}
    pairs = list(_pairs_within_prompts(rows))
    same = sum(np.sign(x[2]) == np.sign(y[2]) for x, y in pairs)
    strict = [(x, y) for x, y in pairs if x[2] and y[2]]
    none = "no prompt has two annotators' judgements"
    put(report, "direction_agreement", ratio(same, len(pairs), none))
    put(report, "direction_agreement_strict", ratio(
        sum(np.sign(x[2]) == np.sign(y[2]) for x, y in strict), len(strict),
        "no prompt has two annotators who both preferred one side"))  # fmt: skip
    put(report, "exact_agreement", ratio(sum(x[2] == y[2] for x, y in pairs), len(pairs), none))
    prompts = {pid: i for i, pid in enumerate(dict.fromkeys(r[0] for r in rows))}
    units = np.array([prompts[r[0]] for r in rows], dtype=np.int64)
    values = np.array([r[2] for r in rows], dtype=float)
    for level in ("interval", "ordinal"):
        put(report, ("krippendorff_alpha", level), alpha_from_units(units, values, level))
    report["weighted_kappa"] = _kappas(rows, levels)
    confusion = Counter()
    for x, y in pairs:
        if x[2] == 0 and y[2] == 0:
            confusion["/".join(sorted((x[3], y[3])))] += 1
        elif x[2] == 0 or y[2] == 0:
            confusion["tie/not_tie"] += 1
    report["tie_confusion"] = dict(sorted(confusion.items()))
    return report


def _kappas(rows, levels: int) -> list[dict[str, Any]]:
    """One quadratic-weighted kappa per pair of annotators sharing enough prompts."""
    by_annotator: dict[str, dict[Any, int]] = {}
    for pid, name, value, _ in rows:
        by_annotator.setdefault(name, {})[pid] = value
    out = []
    for first, second in combinations(sorted(by_annotator), 2):
        shared = sorted(set(by_annotator[first]) & set(by_annotator[second]), key=str)
        if len(shared) < MIN_SHARED_FOR_KAPPA:
            continue
        entry: dict[str, Any] = {"annotators": [first, second], "prompts": len(shared)}
        put(entry, "kappa", weighted_kappa([by_annotator[first][p] for p in shared],
                                           [by_annotator[second][p] for p in shared], levels))  # fmt: skip
        out.append(entry)
    return out


def _signs(ranking: Sequence[Sequence[str]]) -> dict[tuple[str, str], int]:
    rank = {cid: i for i, group in enumerate(ranking) for cid in group}
    ids = sorted(rank)
    return {(a, b): int(np.sign(rank[b] - rank[a])) for a, b in combinations(ids, 2)}


def dimension_disagreement(judgements: Iterable[Judgement], dimension: str) -> dict[str, Any]:
    """How often the dimension's choice goes another way than the overall judgement."""
    pairs = differing = judged = judgements_differing = 0
    for j in judgements:
        choice = j.dimensions.get(dimension)
        if j.skipped or not j.ranking or not choice or not choice.get("ranking"):
            continue
        overall, on_dimension = _signs(j.ranking), _signs(choice["ranking"])
        shared = [key for key in overall if key in on_dimension]
        changed = sum(overall[key] != on_dimension[key] for key in shared)
        pairs, differing = pairs + len(shared), differing + changed
        judged, judgements_differing = judged + 1, judgements_differing + bool(changed)
    record: dict[str, Any] = {"reasons": {}, "judgements": judged, "pairs": pairs}
    put(record, "disagrees_with_overall", ratio(differing, pairs, "no judgement of it yet"))
    put(record, "judgements_disagreeing", ratio(judgements_differing, judged, "no judgement"))
    return record


def on_dimension(judgements: Iterable[Judgement], dimension: str) -> list[Judgement]:
    """The judgements as if the dimension's choice were the ranking (for the ranking figures)."""
    out = []
    for j in judgements:
        choice = j.dimensions.get(dimension)
        if j.skipped or not choice or not choice.get("ranking"):
            continue
        out.append(Judgement(
            prompt_id=j.prompt_id, annotator=j.annotator, completion_ids=j.completion_ids,
            ranking=tuple(tuple(g) for g in choice["ranking"]), shown_order=j.shown_order,
            completion_lengths=j.completion_lengths, created_at=j.created_at,
            strength=choice.get("strength"), tie_kind=choice.get("tie_kind") or "",
        ))  # fmt: skip
    return out


def judging_report(
    judgements: Sequence[Judgement], *, strength_levels: int, dimensions: Mapping[str, str]
) -> dict[str, Any]:
    """The judging section of an agreement report: strength figures (pairwise projects) and one
    record per dimension. ``dimensions``: key -> name."""
    out: dict[str, Any] = {}
    if strength_levels:
        out["strength"] = strength_report(judgements, strength_levels)
    out["dimensions"] = {}
    for key, name in dimensions.items():
        ranked = on_dimension(judgements, key)
        full = project_report(ranked, bootstrap=0) if ranked else {"reasons": {}}
        record = {"name": name, **{k: full.get(k) for k in RANKING_FIGURES if k in full}}
        record["reasons"] = full.get("reasons", {})
        if strength_levels:
            record["strength"] = strength_report(judgements, strength_levels, key)
        record["vs_overall"] = dimension_disagreement(judgements, key)
        out["dimensions"][key] = record
    return out

"""The project report (one JSON-serialisable dict) and the per-prompt incremental summaries."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np

from agreement.metrics import alpha as kalpha
from agreement.metrics._common import Estimate, put, ratio
from agreement.metrics.annotators import (
    annotator_figures,
    length_bias,
    length_wins,
    position_bias,
    position_hits,
)
from agreement.metrics.bootstrap import bootstrap_intervals
from agreement.metrics.bt import equal_weight_loo
from agreement.metrics.ranking import (
    NO_PAIR,
    NO_STRICT,
    PairTable,
    pair_table,
    pooled,
    prompt_sums,
    signs_of,
)
from agreement.metrics.records import Judgement, JudgementArrays, Ranking, build_arrays, to_arrays

# Headline statistic -> (numerator, denominator) among the per-prompt sums.
RATIOS = {
    "pairwise_agreement": ("agree", "strict"),
    "pairwise_agreement_with_ties": ("agree_ties", "both"),
    "tie_rate": ("tied_pairs", "ranked_pairs"),
    "kendall_w_mean": ("w_sum", "w_defined"),
}
NO_TAU = "no two annotators of a prompt both ranked it with at least one untied pair"
DAY = 86_400.0


@contextmanager
def _timed(timings: dict[str, float] | None, name: str):
    start = time.perf_counter()
    yield
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def _tau_mean(tau: np.ndarray) -> Estimate:
    tau = tau[np.isfinite(tau)]
    return Estimate(float(tau.mean())) if tau.size else Estimate(None, NO_TAU)


def _pair_entries(arrays: JudgementArrays, table: PairTable) -> list[dict[str, Any]]:
    """Annotator pairs that share at least one ranked prompt (absent pairs share none)."""
    n_a = len(arrays.annotators)
    key = table.a_lo * n_a + table.a_hi
    keys, inv = np.unique(key, return_inverse=True)

    def total(x) -> np.ndarray:
        return np.bincount(inv, weights=np.asarray(x, dtype=float), minlength=keys.size)

    fin = np.isfinite(table.tau_b)
    sums = {
        "n": total(np.ones(table.size)),
        "strict": total(table.strict),
        "agree": total(table.agree),
        "both": total(table.both),
        "agree_ties": total(table.agree_ties),
        "tau": total(np.where(fin, table.tau_b, 0.0)),
        "tau_n": total(fin),
    }
    out = []
    for i, k in enumerate(keys.tolist()):
        rec: dict[str, Any] = {
            "annotators": [arrays.annotators[k // n_a], arrays.annotators[k % n_a]],
            "shared_prompts": int(sums["n"][i]),
            "tau_prompts": int(sums["tau_n"][i]),
            "comparisons": int(sums["strict"][i]),
            "reasons": {},
        }
        put(rec, "kendall_tau_b", ratio(sums["tau"][i], sums["tau_n"][i], NO_TAU))
        put(rec, "pairwise_agreement", ratio(sums["agree"][i], sums["strict"][i], NO_STRICT))
        put(
            rec,
            "pairwise_agreement_with_ties",
            ratio(sums["agree_ties"][i], sums["both"][i], NO_PAIR),
        )
        out.append(rec)
    return out


def _histogram(report: dict[str, Any], sums: dict[str, np.ndarray], bins: int) -> None:
    """Distribution of per-prompt pairwise agreement, written into report["per_prompt_agreement"]
    (its undefined mean/median are explained in the report's own reasons map)."""
    defined = sums["strict"] > 0
    values = sums["agree"][defined] / sums["strict"][defined]
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    report["per_prompt_agreement"] = {
        "bins": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "prompts": int(defined.sum()),
        "undefined_prompts": int((~defined).sum()),
    }
    empty = Estimate(None, NO_STRICT)
    mean = Estimate(float(values.mean())) if values.size else empty
    median = Estimate(float(np.median(values))) if values.size else empty
    put(report, ("per_prompt_agreement", "mean"), mean)
    put(report, ("per_prompt_agreement", "median"), median)


def _over_time(arrays: JudgementArrays, table: PairTable) -> list[dict[str, Any]]:
    """By UTC day. A comparison between two judgements is dated by the later one: that is the day
    the disagreement became observable."""
    created = arrays.created_at
    when = np.fmax(created[table.r1], created[table.r2])
    when = np.where(np.isnan(created[table.r1]) | np.isnan(created[table.r2]), np.nan, when)
    row_day = np.floor(created / DAY)
    pair_day = np.floor(when / DAY)
    days = np.unique(
        np.concatenate([row_day[np.isfinite(row_day)], pair_day[np.isfinite(pair_day)]])
    )
    if days.size == 0:
        return []
    fin_r, fin_p = np.isfinite(row_day), np.isfinite(pair_day)
    idx_r = np.searchsorted(days, row_day[fin_r])
    idx_p = np.searchsorted(days, pair_day[fin_p])
    judgements = np.bincount(idx_r, minlength=days.size)
    strict = np.bincount(idx_p, weights=table.strict[fin_p], minlength=days.size)
    agree = np.bincount(idx_p, weights=table.agree[fin_p], minlength=days.size)
    out = []
    for i, d in enumerate(days.tolist()):
        rec: dict[str, Any] = {
            "day": datetime.fromtimestamp(d * DAY, UTC).date().isoformat(),
            "judgements": int(judgements[i]),
            "comparisons": int(strict[i]),
            "reasons": {},
        }
        put(rec, "pairwise_agreement", ratio(agree[i], strict[i], NO_STRICT))
        out.append(rec)
    return out


def _put_bias(report: dict[str, Any], key: str, value) -> None:
    if isinstance(value, Estimate):
        put(report, key, value)
    else:
        report[key] = value


def project_report(
    data: JudgementArrays | Iterable[Judgement],
    gold: Mapping[Hashable, Ranking] | None = None,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    histogram_bins: int = 10,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Every agreement statistic of a project. Undefined figures are None, with the reason under
    the enclosing record's "reasons" map (dotted key). `timings`, if given, receives the seconds
    spent in each part (for benchmarks)."""
    with _timed(timings, "build_arrays"):
        arrays = to_arrays(data, gold)
    report: dict[str, Any] = {"reasons": {}}
    with _timed(timings, "pairwise_and_w"):
        signs = signs_of(arrays)
        table = pair_table(arrays)
        sums = prompt_sums(arrays, table, signs)
        for key, est in pooled(sums).items():
            put(report, key, est)
        put(report, "kendall_tau_b_mean", _tau_mean(table.tau_b))
    report["counts"] = {
        "prompts": arrays.n_prompts,
        "judgements": arrays.n_rows,
        "ranked": int(arrays.ranked.sum()),
        "skipped": int(arrays.skipped.sum()),
        "annotators": len(arrays.annotators),
        "prompts_ranked_by_two": int(np.unique(table.prompt).size),
        "comparisons": int(sums["strict"].sum()),
    }

    with _timed(timings, "alpha_ranking"):
        rank_coinc = kalpha.ranking_coincidences(arrays, (table.r1, table.r2))
        put(report, ("krippendorff_alpha", "ranking"), kalpha.alpha_estimate(rank_coinc, "ordinal"))
    with _timed(timings, "alpha_ratings"):
        rating_coinc = kalpha.rating_coincidences(arrays)
        for level in ("ordinal", "interval"):
            est = kalpha.alpha_estimate(rating_coinc, level)
            put(report, ("krippendorff_alpha", "ratings", level), est)
    with _timed(timings, "alpha_flags"):
        report["krippendorff_alpha"]["flags"] = {}
        for name, est in kalpha.alpha_flags(arrays).items():
            put(report, ("krippendorff_alpha", "flags", name), est)

    with _timed(timings, "per_annotator"):
        loo = equal_weight_loo(arrays)[:2]
        report["annotators"] = annotator_figures(arrays, table, signs, loo)
        report["annotator_pairs"] = _pair_entries(arrays, table)
        _, hits, chance = position_hits(arrays)
        _put_bias(report, "position_bias", position_bias(hits, chance))
        n_len, won = length_wins(arrays, signs)
        _put_bias(report, "length_bias", length_bias(n_len.sum(), won.sum()))
    _histogram(report, sums, histogram_bins)
    report["agreement_over_time"] = _over_time(arrays, table)

    with _timed(timings, "bootstrap"):
        _confidence_intervals(report, arrays, sums, rank_coinc, bootstrap, seed, confidence)
    report["bootstrap"] = {
        "replicates": int(bootstrap),
        "seed": int(seed),
        "confidence": float(confidence),
        "method": "percentile; prompts resampled with replacement",
    }
    return report


def _confidence_intervals(report, arrays, sums, rank_coinc, replicates, seed, confidence) -> None:
    report["confidence_intervals"] = {}
    keys = {
        **{k: report[k] for k in RATIOS},
        "krippendorff_alpha_ranking": report["krippendorff_alpha"]["ranking"],
    }
    point_reasons = report["reasons"]
    if replicates <= 0:
        for key in keys:
            put(report, ("confidence_intervals", key), Estimate(None, "bootstrap disabled"))
        return
    k = max(arrays.k_max, 1)
    intervals = bootstrap_intervals(
        {
            key: (sums[num], sums[den])
            for key, (num, den) in RATIOS.items()
            if keys[key] is not None
        },
        arrays.n_prompts,
        alpha={"krippendorff_alpha_ranking": (rank_coinc, rank_coinc.unit // k, "ordinal")}
        if keys["krippendorff_alpha_ranking"] is not None
        else None,
        replicates=replicates,
        seed=seed,
        confidence=confidence,
    )
    for key, point in keys.items():
        if point is None:
            reason = point_reasons.get(key) or point_reasons.get("krippendorff_alpha.ranking")
            put(
                report,
                ("confidence_intervals", key),
                Estimate(None, f"no point estimate: {reason}"),
            )
        else:
            put(report, ("confidence_intervals", key), intervals[key])


def prompt_summary(
    judgements: Iterable[Judgement], gold: Mapping[Hashable, Ranking] | None = None
) -> dict[str, Any]:
    """Cheap per-prompt statistics for the incremental path (after one submission).

    "sums" are additive across prompts: store them per prompt and `combine_summaries` gives the
    project's pooled headline figures without a full recompute.
    """
    arrays = build_arrays(judgements, gold)
    if arrays.n_prompts != 1:
        raise ValueError(
            f"prompt_summary takes the judgements of one prompt, got {arrays.n_prompts}"
        )
    table = pair_table(arrays)
    sums = prompt_sums(arrays, table)
    rec: dict[str, Any] = {
        "prompt_id": arrays.prompt_ids[0],
        "judgements": arrays.n_rows,
        "ranked": int(arrays.ranked.sum()),
        "sums": {key: float(v[0]) for key, v in sums.items()},
        "reasons": {},
    }
    for key, est in pooled(sums).items():
        put(rec, "kendall_w" if key == "kendall_w_mean" else key, est)
    put(rec, "kendall_tau_b_mean", _tau_mean(table.tau_b))
    return rec


def combine_summaries(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Pooled headline statistics from stored `prompt_summary` results."""
    keys = (
        "strict",
        "agree",
        "both",
        "agree_ties",
        "ranked_pairs",
        "tied_pairs",
        "w_sum",
        "w_defined",
        "rankers",
    )
    totals = {k: [] for k in keys}
    n = 0
    for s in summaries:
        n += 1
        for k in keys:
            totals[k].append(s["sums"][k])
    rec: dict[str, Any] = {"prompts": n, "reasons": {}}
    for key, est in pooled({k: np.asarray(v, dtype=float) for k, v in totals.items()}).items():
        put(rec, key, est)
    return rec

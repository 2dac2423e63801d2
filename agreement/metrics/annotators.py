"""Per-annotator figures: agreement with others, gold accuracy, time, position and length bias."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import binomtest

from agreement.metrics._common import Estimate, as_float, group_bounds, put, ratio
from agreement.metrics.ranking import PairTable, completion_pairs, preference_signs
from agreement.metrics.records import JudgementArrays

NO_OVERLAP = "never ranked a prompt that another annotator also ranked"
NO_LOO = "the consensus of the others never strictly ordered a pair this annotator ordered"
NO_GOLD = "ranked no prompt that has a gold ranking"
NO_GOLD_STRICT = "never strictly ordered a pair that the gold ranking orders strictly"
NO_TIME = "no completed judgement recorded its time"
NO_SHOWN = "no ranked judgement recorded which output was shown first"
NO_LENGTH = "no strict preference between outputs of known, different lengths"


def _per(index: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(index, weights=np.asarray(weights, dtype=float), minlength=n)


def group_medians(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """[n] median of values per group index, NaN for empty groups."""
    keep = np.isfinite(values)
    g, v = groups[keep], values[keep]
    order = np.lexsort((v, g))
    g, v = g[order], v[order]
    keys, starts, sizes = group_bounds(g)
    out = np.full(n, np.nan)
    out[keys] = (v[starts + (sizes - 1) // 2] + v[starts + sizes // 2]) / 2.0
    return out


def gold_comparison(arrays: JudgementArrays, signs) -> dict[str, np.ndarray]:
    """Per row against its prompt's gold ranking: strict pairs, correct ones, Kendall distance.

    The normalised Kendall distance counts a reversed pair as 1 and a pair tied in exactly one of
    the two rankings as 1/2, over the pairs both rank; 0 is identical, 1 fully reversed.
    """
    n = arrays.n_rows
    out = {k: np.zeros(n) for k in ("strict", "correct", "distance", "scored")}
    sign, valid = signs
    g_sign, g_valid = preference_signs(arrays.gold_rank)
    rows = np.flatnonzero(arrays.ranked & (g_valid.sum(axis=1) > 0)[arrays.row_prompt])
    if rows.size == 0:
        return out
    gs, gv = g_sign[arrays.row_prompt[rows]], g_valid[arrays.row_prompt[rows]]
    own = sign[rows]
    v = valid[rows] & gv
    strict = v & (own != 0) & (gs != 0)
    reversed_ = v & (own * gs.astype(np.int16) < 0)
    half = v & ((own == 0) != (gs == 0))
    pairs = v.sum(axis=1)
    out["strict"][rows] = strict.sum(axis=1)
    out["correct"][rows] = (strict & (own == gs)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = (reversed_.sum(axis=1) + 0.5 * half.sum(axis=1)) / pairs
    out["distance"][rows] = np.where(pairs > 0, dist, 0.0)
    out["scored"][rows] = pairs > 0
    return out


def position_hits(arrays: JudgementArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, hit, chance): did the output shown first land in the top tie group, and the chance
    of that if display order were independent of the ranking (top-group size / ranked count,
    which is 1/K when the top is not tied)."""
    sf = arrays.shown_first
    rows = np.flatnonzero(arrays.ranked & (sf >= 0))
    rank = arrays.rank[rows]
    first = rank[np.arange(rows.size), sf[rows]]
    rows, rank, first = (
        rows[np.isfinite(first)],
        rank[np.isfinite(first)],
        first[np.isfinite(first)],
    )
    best = np.nanmin(rank, axis=1) if rows.size else np.zeros(0)
    top = (rank == best[:, None]).sum(axis=1)
    chance = top / np.isfinite(rank).sum(axis=1)
    return rows, first == best, chance


def length_wins(arrays: JudgementArrays, signs) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (strict preferences between outputs of different known length, longer won)."""
    sign, valid = signs
    ci, cj = completion_pairs(arrays.k_max)
    lengths = arrays.lengths[arrays.row_prompt]
    li, lj = lengths[:, ci], lengths[:, cj]
    with np.errstate(invalid="ignore"):
        usable = valid & (sign != 0) & np.isfinite(li) & np.isfinite(lj) & (li != lj)
        longer_won = usable & ((sign > 0) == (li > lj))
    usable &= arrays.ranked[:, None]
    longer_won &= arrays.ranked[:, None]
    return usable.sum(axis=1).astype(float), longer_won.sum(axis=1).astype(float)


def bias_test(hits: float, n: float, chance: float) -> dict[str, Any]:
    """Two-sided binomial test. With a chance rate that varies by judgement the true null is
    Poisson-binomial; a binomial at the mean rate has the same mean and at least its variance,
    so the p-value errs on the conservative side."""
    n_i, h_i = round(n), round(hits)
    return {
        "rate": h_i / n_i,
        "chance_rate": float(chance),
        "n": n_i,
        "p_value": float(binomtest(h_i, n_i, min(max(chance, 0.0), 1.0)).pvalue),
    }


def position_bias(hits: np.ndarray, chance: np.ndarray) -> Estimate | dict:
    if hits.size == 0:
        return Estimate(None, NO_SHOWN)
    return bias_test(hits.sum(), hits.size, chance.mean())


def length_bias(n: float, longer: float) -> Estimate | dict:
    if n <= 0:
        return Estimate(None, NO_LENGTH)
    out = bias_test(longer, n, 0.5)
    out["longer_wins_rate"] = out.pop("rate")
    return out


def _put_any(record: dict, key: str, value) -> None:
    if isinstance(value, Estimate):
        put(record, key, value)
    else:
        record[key] = value


def annotator_figures(
    arrays: JudgementArrays, table: PairTable, signs, loo: tuple[np.ndarray, np.ndarray]
) -> list[dict[str, Any]]:
    n_a = len(arrays.annotators)
    ann = arrays.row_annotator
    ones = np.ones(arrays.n_rows)
    judgements = _per(ann, ones, n_a)
    skipped = _per(ann, arrays.skipped, n_a)
    ranked = _per(ann, arrays.ranked, n_a)
    gold_judgements = _per(ann, arrays.is_gold, n_a)

    done = ~arrays.skipped
    median_time = group_medians(ann[done], arrays.time_ms[done], n_a)

    pair_strict = _per(table.a_lo, table.strict, n_a) + _per(table.a_hi, table.strict, n_a)
    pair_agree = _per(table.a_lo, table.agree, n_a) + _per(table.a_hi, table.agree, n_a)
    overlap = _per(table.a_lo, np.ones(table.size), n_a) + _per(
        table.a_hi, np.ones(table.size), n_a
    )

    loo_agree, loo_total = (_per(ann, x, n_a) for x in loo)

    gold = gold_comparison(arrays, signs)
    g_strict, g_correct = _per(ann, gold["strict"], n_a), _per(ann, gold["correct"], n_a)
    g_scored = _per(ann, gold["scored"], n_a)
    g_dist = _per(ann, gold["distance"], n_a)

    pos_rows, pos_hit, pos_chance = position_hits(arrays)
    pos_n = _per(ann[pos_rows], np.ones(pos_rows.size), n_a)
    pos_h = _per(ann[pos_rows], pos_hit, n_a)
    pos_c = _per(ann[pos_rows], pos_chance, n_a)

    len_n_row, len_w_row = length_wins(arrays, signs)
    len_n, len_w = _per(ann, len_n_row, n_a), _per(ann, len_w_row, n_a)

    out = []
    for a, name in enumerate(arrays.annotators):
        rec: dict[str, Any] = {
            "annotator": name,
            "judgements": int(judgements[a]),
            "ranked": int(ranked[a]),
            "skipped": int(skipped[a]),
            "skip_rate": float(skipped[a] / judgements[a]),
            "gold_judgements": int(gold_judgements[a]),
            "shared_prompts": int(overlap[a]),
            "gold_prompts": int(g_scored[a]),
            "reasons": {},
        }
        t = as_float(median_time[a])
        put(rec, "median_time_ms", Estimate(t, None if t is not None else NO_TIME))
        if overlap[a] == 0:
            put(rec, "pairwise_agreement", Estimate(None, NO_OVERLAP))
            put(rec, "consensus_agreement", Estimate(None, NO_OVERLAP))
        else:
            put(rec, "pairwise_agreement", ratio(pair_agree[a], pair_strict[a], NO_OVERLAP))
            put(rec, "consensus_agreement", ratio(loo_agree[a], loo_total[a], NO_LOO))
        rec["consensus_comparisons"] = int(loo_total[a])
        if g_scored[a] == 0:
            put(rec, "gold_accuracy", Estimate(None, NO_GOLD))
            put(rec, "gold_kendall_distance", Estimate(None, NO_GOLD))
        else:
            put(rec, "gold_accuracy", ratio(g_correct[a], g_strict[a], NO_GOLD_STRICT))
            put(rec, "gold_kendall_distance", Estimate(float(g_dist[a] / g_scored[a])))
        pos = (
            bias_test(pos_h[a], pos_n[a], pos_c[a] / pos_n[a])
            if pos_n[a]
            else Estimate(None, NO_SHOWN)
        )
        _put_any(rec, "position_bias", pos)
        _put_any(rec, "length_bias", length_bias(len_n[a], len_w[a]))
        out.append(rec)
    return out

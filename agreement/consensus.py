"""Consensus rankings: reliability-weighted Bradley-Terry per prompt, iterated to a fixed point.

Each annotator's ranking of a prompt contributes, for every completion pair, `weight` wins to the
preferred completion (half to each on a tie). The weight is the log-odds of the annotator's
reliability, estimated from how often they agree with the leave-one-out consensus of the others
(and with gold rankings, counted `gold_weight` times). Consensus and weights are recomputed in
turn until the weights stop moving (Dawid-Skene style: the one-coin model's optimal vote weight
is exactly that log-odds).

Pure numpy/scipy: no Django here. An adjudicated ranking from a reviewer overrides consensus on
the Django side; `consensus_from_ranking` gives it the same output shape.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Any

import numpy as np
from scipy.special import expit

from agreement.metrics._common import Estimate, no_gc, put
from agreement.metrics.annotators import gold_comparison
from agreement.metrics.bt import (
    DEFAULT_PRIOR,
    TIE_TOL,
    equal_weight_loo,
    fit_pairs,
    group_sum,
    loo_agreement,
    pair_wins,
    tie_groups,
)
from agreement.metrics.ranking import (
    kendall_w,
    pair_table,
    signs_of,
)
from agreement.metrics.records import Judgement, JudgementArrays, Ranking, build_arrays, to_arrays

# Pseudo-counts (agreements, disagreements) added to every annotator's record: with no evidence
# an annotator is taken to be right 3 times out of 4 (weight log 3 ~ 1.1), and a handful of
# comparisons cannot swing the weight to an extreme.
RELIABILITY_PRIOR = (3.0, 1.0)
# Below-chance annotators keep a sliver of weight so prompts only they ranked still get an order;
# the cap (99% reliable) stops one annotator from outvoting any number of others.
MIN_WEIGHT = 0.05
MAX_WEIGHT = float(np.log(99.0))
NO_RANKING = "no annotator ranked this prompt"
# Per-prompt wording of the project-level reasons in agreement.metrics.ranking.
NO_PAIR = "fewer than two annotators ranked this prompt"
NO_STRICT = "no completion pair of this prompt was strictly ordered by two annotators"
NO_W = "this prompt has fewer than two complete rankings that are not all ties"


def reliability_weights(
    agree: np.ndarray, total: np.ndarray, prior: tuple[float, float] = RELIABILITY_PRIOR
) -> np.ndarray:
    """Log-odds of the smoothed agreement rate, clipped to [MIN_WEIGHT, MAX_WEIGHT]."""
    a, b = prior
    rate = (np.asarray(agree, dtype=float) + a) / (np.asarray(total, dtype=float) + a + b)
    return np.clip(np.log(rate / (1.0 - rate)), MIN_WEIGHT, MAX_WEIGHT)


@dataclass(frozen=True, eq=False)
class ConsensusResult:
    """Every prompt's consensus as arrays; `prompt(id)` / `prompts()` give the JSON records."""

    prompt_ids: tuple[Hashable, ...]
    completion_ids: tuple[tuple[str, ...], ...]
    scores: np.ndarray  # [P, K] Bradley-Terry log-strengths, mean 0 per prompt; NaN if unranked
    groups: np.ndarray  # [P, K] consensus tie group (0 = best), -1 for padding / unranked
    rankers: np.ndarray  # [P] judgements that ranked the prompt
    agreement: np.ndarray  # [P] pairwise agreement among the prompt's annotators, NaN if none
    agreement_reason: tuple[str | None, ...]
    kendall_w: np.ndarray  # [P] NaN if undefined
    annotator_weights: dict[str, float]
    reliability: dict[str, dict[str, float]]
    iterations: int
    converged: bool

    def _index(self) -> dict[Hashable, int]:
        cache = self.__dict__.get("_idx")
        if cache is None:
            cache = {pid: i for i, pid in enumerate(self.prompt_ids)}
            object.__setattr__(self, "_idx", cache)
        return cache

    def prompt(self, prompt_id: Hashable) -> dict[str, Any]:
        p = self._index()[prompt_id]
        return next(self._entries(p, p + 1))

    def prompts(self) -> Iterator[dict[str, Any]]:
        """Every prompt's record, in prompt order."""
        n = len(self.prompt_ids)
        step = max(1, 500_000 // max(1, self.scores.shape[1] ** 2))
        for lo in range(0, n, step):
            with no_gc():
                batch = list(self._entries(lo, min(n, lo + step)))
            yield from batch

    def _entries(self, lo: int, hi: int) -> Iterator[dict[str, Any]]:
        # Converted to Python lists in bulk: per-prompt numpy calls would dominate at 100k prompts.
        k_max = self.scores.shape[1]
        ordered = list(permutations(range(k_max), 2))  # the order of permutations(ids, 2) below
        oa, ob = (np.array([x[n] for x in ordered], dtype=np.int64) for n in (0, 1))
        # Positions, in the K_max list, of the ordered pairs of a prompt with k completions.
        subset = {
            k: [t for t, (a, b) in enumerate(ordered) if a < k and b < k] for k in range(k_max)
        }
        s = self.scores[lo:hi]
        probs = expit(s[:, oa] - s[:, ob]).tolist()
        scores, groups = s.tolist(), self.groups[lo:hi].tolist()
        rankers = self.rankers[lo:hi].tolist()
        agreement, kw = self.agreement[lo:hi].tolist(), self.kendall_w[lo:hi].tolist()
        for i, p in enumerate(range(lo, hi)):
            ids = self.completion_ids[p]
            k = len(ids)
            rec: dict[str, Any] = {
                "prompt_id": self.prompt_ids[p],
                "source": "bradley_terry",
                "annotators": rankers[i],
            }
            reasons: dict[str, str] = {}
            if rankers[i] == 0:
                rec["ranking"] = rec["scores"] = rec["pair_probs"] = None
                reasons.update(dict.fromkeys(("ranking", "scores", "pair_probs"), NO_RANKING))
            else:
                g = groups[i]
                ranking: list[list[str]] = [[] for _ in range(max(g[:k]) + 1)]
                for c in range(k):
                    ranking[g[c]].append(ids[c])
                rec["ranking"] = ranking
                rec["scores"] = dict(zip(ids, scores[i][:k], strict=True))
                pr = probs[i] if k == k_max else [probs[i][t] for t in subset[k]]
                keys = [f"{x}>{y}" for x, y in permutations(ids, 2)]
                rec["pair_probs"] = dict(zip(keys, pr, strict=True))
            a = agreement[i]
            rec["agreement"] = None if a != a else a  # NaN check without numpy per prompt
            if a != a:
                reasons["agreement"] = self.agreement_reason[p] or NO_PAIR
            w = kw[i]
            rec["kendall_w"] = None if w != w else w
            if w != w:
                reasons["kendall_w"] = NO_W
            rec["reasons"] = reasons
            yield rec


def _per_annotator(arrays: JudgementArrays, values: np.ndarray) -> np.ndarray:
    return np.bincount(arrays.row_annotator, weights=values, minlength=len(arrays.annotators))


def _result(
    arrays: JudgementArrays,
    row_weight: np.ndarray,
    prior: float,
    tie_tol: float,
    weights: dict[str, float],
    reliability: dict[str, dict[str, float]],
    iterations: int,
    converged: bool,
) -> ConsensusResult:
    signs = signs_of(arrays)
    rows = np.flatnonzero(arrays.ranked)
    p_rows = arrays.row_prompt[rows]
    rankers = np.bincount(p_rows, minlength=arrays.n_prompts)
    has = rankers > 0
    scores = np.full((arrays.n_prompts, arrays.k_max), np.nan)
    if rows.size:
        w_ij, w_ji = pair_wins(signs[0][rows], signs[1][rows])
        m = w_ij.shape[1]
        wins = group_sum(p_rows, np.hstack([w_ij, w_ji]), row_weight[rows], arrays.n_prompts)[has]
        fitted, _, _ = fit_pairs(wins[:, :m], wins[:, m:], arrays.completion_mask[has], prior=prior)
        scores[has] = fitted
    table = pair_table(arrays)
    strict = np.bincount(table.prompt, weights=table.strict, minlength=arrays.n_prompts)
    agree = np.bincount(table.prompt, weights=table.agree, minlength=arrays.n_prompts)
    paired = np.bincount(table.prompt, minlength=arrays.n_prompts) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(strict > 0, agree / np.where(strict > 0, strict, 1), np.nan)
    reasons = tuple(
        None if s > 0 else (NO_STRICT if pr else NO_PAIR)
        for s, pr in zip(strict.tolist(), paired.tolist(), strict=True)
    )
    return ConsensusResult(
        prompt_ids=arrays.prompt_ids,
        completion_ids=arrays.completion_ids,
        scores=scores,
        groups=tie_groups(scores, tie_tol),
        rankers=rankers,
        agreement=agreement,
        agreement_reason=reasons,
        kendall_w=kendall_w(arrays)[0],
        annotator_weights=weights,
        reliability=reliability,
        iterations=iterations,
        converged=converged,
    )


def consensus(
    data: JudgementArrays | Iterable[Judgement],
    gold: Mapping[Hashable, Ranking] | None = None,
    *,
    prior: float = DEFAULT_PRIOR,
    max_iter: int = 20,
    tol: float = 1e-3,
    gold_weight: float = 2.0,
    tie_tol: float = TIE_TOL,
    reliability_prior: tuple[float, float] = RELIABILITY_PRIOR,
) -> ConsensusResult:
    """Consensus of every prompt, with annotator weights iterated to a fixed point.

    Stops when no weight moves by more than `tol` (converged) or after `max_iter` rounds.
    """
    arrays = to_arrays(data, gold)
    signs = signs_of(arrays)
    g = gold_comparison(arrays, signs)
    g_agree = _per_annotator(arrays, g["correct"])
    g_total = _per_annotator(arrays, g["strict"])
    weights = np.ones(len(arrays.annotators))
    converged = False
    iterations = 0
    agree = total = np.zeros_like(weights)
    loo_scores = None
    for iterations in range(1, max_iter + 1):
        if iterations == 1:  # all weights 1: the same fit the report makes
            row_agree, row_total, loo_scores = equal_weight_loo(
                arrays, prior=prior, tie_tol=tie_tol
            )
        else:
            # Warm start: weights move little between rounds, so neither do the scores.
            row_agree, row_total, loo_scores = loo_agreement(
                arrays,
                weights[arrays.row_annotator],
                prior=prior,
                tie_tol=tie_tol,
                init=loo_scores,
            )
        agree = _per_annotator(arrays, row_agree)
        total = _per_annotator(arrays, row_total)
        new = reliability_weights(
            agree + gold_weight * g_agree, total + gold_weight * g_total, reliability_prior
        )
        moved = float(np.abs(new - weights).max()) if new.size else 0.0
        weights = new
        if moved < tol:
            converged = True
            break
    names = arrays.annotators
    reliability = {
        name: {
            "agreements": float(agree[a]),
            "comparisons": float(total[a]),
            "gold_agreements": float(g_agree[a]),
            "gold_comparisons": float(g_total[a]),
        }
        for a, name in enumerate(names)
    }
    return _result(
        arrays,
        weights[arrays.row_annotator],
        prior,
        tie_tol,
        {name: float(weights[a]) for a, name in enumerate(names)},
        reliability,
        iterations,
        converged,
    )


def fixed_weight_consensus(
    judgements: Iterable[Judgement],
    annotator_weights: Mapping[str, float] | None = None,
    *,
    prior: float = DEFAULT_PRIOR,
    tie_tol: float = TIE_TOL,
) -> ConsensusResult:
    """Consensus of some prompts with fixed annotator weights (the incremental path after
    submissions), vectorised across the prompts like ``consensus`` but without re-estimating
    the weights.

    Annotators missing from annotator_weights get the no-evidence weight (log 3).
    """
    arrays = build_arrays(judgements)
    default = float(reliability_weights(np.zeros(1), np.zeros(1))[0])
    given = annotator_weights or {}
    per = np.array([float(given.get(name, default)) for name in arrays.annotators])
    weights = {name: float(w) for name, w in zip(arrays.annotators, per, strict=True)}
    return _result(arrays, per[arrays.row_annotator], prior, tie_tol, weights, {}, 0, True)


def prompt_consensus(
    judgements: Iterable[Judgement],
    annotator_weights: Mapping[str, float] | None = None,
    *,
    prior: float = DEFAULT_PRIOR,
    tie_tol: float = TIE_TOL,
) -> dict[str, Any]:
    """Consensus record of one prompt with fixed weights."""
    judgements = list(judgements)
    n_prompts = len({j.prompt_id for j in judgements})
    if n_prompts != 1:
        raise ValueError(f"prompt_consensus takes the judgements of one prompt, got {n_prompts}")
    result = fixed_weight_consensus(judgements, annotator_weights, prior=prior, tie_tol=tie_tol)
    return result.prompt(judgements[0].prompt_id)


def consensus_from_ranking(
    ranking: Ranking | Sequence[Sequence[str]],
    completion_ids: Sequence[str] | None = None,
    prompt_id: Hashable | None = None,
) -> dict[str, Any]:
    """The consensus record of an adjudicated ranking: P(i beats j) is 1, 0 or 1/2 (tie)."""
    groups = [list(g) for g in ranking if len(g)]
    position = {cid: gi for gi, grp in enumerate(groups) for cid in grp}
    ids = list(completion_ids) if completion_ids is not None else [c for grp in groups for c in grp]
    if set(ids) != set(position) or len(position) != sum(len(g) for g in groups):
        raise ValueError("an adjudicated ranking must place every completion exactly once")
    rec: dict[str, Any] = {
        "prompt_id": prompt_id,
        "source": "adjudicated",
        "ranking": groups,
        "reasons": {},
    }
    put(rec, "annotators", Estimate(None, "adjudicated by a reviewer"))
    put(rec, "scores", Estimate(None, "an adjudicated ranking has no Bradley-Terry scores"))

    def prob(i: str, j: str) -> float:
        gi, gj = position[i], position[j]
        return 1.0 if gi < gj else 0.0 if gi > gj else 0.5

    rec["pair_probs"] = {f"{i}>{j}": prob(i, j) for i in ids for j in ids if i != j}
    put(rec, "agreement", Estimate(None, "adjudicated by a reviewer"))
    put(rec, "kendall_w", Estimate(None, "adjudicated by a reviewer"))
    return rec


__all__ = [
    "ConsensusResult",
    "consensus",
    "consensus_from_ranking",
    "prompt_consensus",
    "reliability_weights",
]

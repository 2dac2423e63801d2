"""Agreement between rankings: pairwise agreement, ties, Kendall's tau-b and Kendall's W.

A ranking row becomes a vector of preference signs over the K(K-1)/2 completion pairs
(+1: the first completion of the pair is preferred, -1: the second, 0: tied). Everything here is
then sums of elementwise products of those sign vectors, over pairs of rows of the same prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agreement.metrics._common import Estimate, group_bounds, pair_index, ratio, within_group_pairs
from agreement.metrics.records import JudgementArrays

NO_PAIR = "no prompt was ranked by two annotators"
NO_STRICT = "no completion pair was strictly ordered by two annotators of the same prompt"
NO_RANKING = "no judgement ranked two completions"
NO_W = "no prompt has two complete rankings of two or more completions that are not all tied"


def completion_pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices (i, j), i < j, of every completion pair for K = k."""
    return pair_index(k)


def preference_signs(rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([N, M] int8 sign, [N, M] bool valid) for the M completion pairs of a [N, K] rank matrix."""
    ci, cj = completion_pairs(rank.shape[1])
    diff = rank[:, cj] - rank[:, ci]  # positive when i has the better (smaller) rank
    valid = np.isfinite(diff)
    sign = np.sign(np.where(valid, diff, 0.0)).astype(np.int8)
    return sign, valid


def signs_of(arrays: JudgementArrays) -> tuple[np.ndarray, np.ndarray]:
    return arrays.cached("signs", lambda: preference_signs(arrays.rank))


@dataclass(frozen=True)
class PairTable:
    """One entry per (prompt, two annotators who both ranked it)."""

    r1: np.ndarray
    r2: np.ndarray
    prompt: np.ndarray
    a_lo: np.ndarray  # the pair's annotator indices, a_lo < a_hi
    a_hi: np.ndarray
    both: np.ndarray  # completion pairs both annotators ranked
    agree_ties: np.ndarray  # ... on which they gave the same answer, a tie being an answer
    strict: np.ndarray  # completion pairs both ordered strictly
    agree: np.ndarray  # ... on which they agree
    tau_b: np.ndarray  # per-prompt Kendall tau-b, NaN when one ranking is all ties

    @property
    def size(self) -> int:
        return int(self.r1.size)


def ranked_row_pairs(arrays: JudgementArrays) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of every pair of ranked judgements of the same prompt."""
    rows = np.flatnonzero(arrays.ranked)
    _, starts, sizes = group_bounds(arrays.row_prompt[rows])
    i, j = within_group_pairs(starts, sizes)
    return rows[i], rows[j]


def pair_table(arrays: JudgementArrays, signs=None) -> PairTable:
    if signs is None:
        return arrays.cached("pair_table", lambda: pair_table(arrays, signs_of(arrays)))
    sign, valid = signs
    r1, r2 = ranked_row_pairs(arrays)
    s1, s2, v = sign[r1], sign[r2], valid[r1] & valid[r2]
    same = (s1 == s2) & v
    nz1, nz2 = (s1 != 0) & v, (s2 != 0) & v
    strict = nz1 & nz2
    # With signs in {-1, 0, 1}, sum(s1 * s2) is concordant minus discordant pairs and the counts
    # of non-zero signs are the tau-b denominators' untied-pair counts.
    num = (s1.astype(np.int32) * s2 * v).sum(axis=1)
    n1, n2 = nz1.sum(axis=1), nz2.sum(axis=1)
    den = np.sqrt(n1.astype(float) * n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    a1, a2 = arrays.row_annotator[r1], arrays.row_annotator[r2]
    return PairTable(
        r1=r1,
        r2=r2,
        prompt=arrays.row_prompt[r1],
        a_lo=np.minimum(a1, a2),
        a_hi=np.maximum(a1, a2),
        both=v.sum(axis=1),
        agree_ties=same.sum(axis=1),
        strict=strict.sum(axis=1),
        agree=(same & strict).sum(axis=1),
        tau_b=tau,
    )


def prompt_sums(arrays: JudgementArrays, table: PairTable, signs=None) -> dict[str, np.ndarray]:
    """[P] additive counts per prompt: every pooled statistic is a ratio of two of these sums."""
    sign, valid = signs_of(arrays) if signs is None else signs
    n = arrays.n_prompts
    ranked = arrays.ranked

    def by_prompt(weights: np.ndarray, index: np.ndarray = table.prompt) -> np.ndarray:
        return np.bincount(index, weights=weights, minlength=n)

    rows = np.flatnonzero(ranked)
    w, m = kendall_w(arrays)
    return {
        "strict": by_prompt(table.strict),
        "agree": by_prompt(table.agree),
        "both": by_prompt(table.both),
        "agree_ties": by_prompt(table.agree_ties),
        "ranked_pairs": by_prompt(valid[rows].sum(axis=1), arrays.row_prompt[rows]),
        "tied_pairs": by_prompt(
            ((sign[rows] == 0) & valid[rows]).sum(axis=1), arrays.row_prompt[rows]
        ),
        "w_sum": np.nan_to_num(w),
        "w_defined": np.isfinite(w).astype(float),
        "rankers": m.astype(float),
    }


def kendall_w(arrays: JudgementArrays) -> tuple[np.ndarray, np.ndarray]:
    """([P] Kendall's W with tie correction, NaN if undefined; [P] rankings used)."""
    return arrays.cached("kendall_w", lambda: _kendall_w(arrays))


def _kendall_w(arrays: JudgementArrays) -> tuple[np.ndarray, np.ndarray]:
    """Kendall's W per prompt.

    Only complete rankings (all K completions placed) enter, since W compares rank sums over the
    same items. W = 12 S / (m^2 (n^3 - n) - m sum_j T_j), S the squared deviations of the rank
    sums from their mean, T_j = sum over rater j's tie groups of (t^3 - t).
    """
    n_k = arrays.n_completions
    rank = arrays.rank
    finite = np.isfinite(rank)
    complete = arrays.ranked & (finite.sum(axis=1) == n_k[arrays.row_prompt])
    rows = np.flatnonzero(complete)
    p = arrays.row_prompt[rows]
    rk = rank[rows]
    fin = finite[rows]
    n_p, k = arrays.n_prompts, arrays.k_max

    m = np.bincount(p, minlength=n_p).astype(float)
    filled = np.where(fin, rk, 0.0)
    rank_sum = np.zeros((n_p, k))
    for c in range(k):
        rank_sum[:, c] = np.bincount(p, filled[:, c], n_p)
    # Each member of a tie group of size t sees t equal ranks, so sum_k (t_k^2 - 1) = sum (t^3 - t).
    t = ((rk[:, :, None] == rk[:, None, :]) & fin[:, :, None] & fin[:, None, :]).sum(axis=2)
    ties = np.bincount(
        p, weights=(np.where(fin, t.astype(float) ** 2 - 1, 0.0)).sum(axis=1), minlength=n_p
    )

    n = n_k.astype(float)
    mean = m * (n + 1) / 2
    mask = np.arange(k)[None, :] < n_k[:, None]
    s = (np.where(mask, rank_sum - mean[:, None], 0.0) ** 2).sum(axis=1)
    den = m**2 * (n**3 - n) - m * ties
    ok = (m >= 2) & (n >= 2) & (den > 1e-9)
    w = np.full(n_p, np.nan)
    w[ok] = 12.0 * s[ok] / den[ok]
    return w, m


def pooled(sums: dict[str, np.ndarray]) -> dict[str, Estimate]:
    total = {key: float(v.sum()) for key, v in sums.items()}
    if total["both"] == 0:
        strict = ties = Estimate(None, NO_PAIR)
    else:
        strict = ratio(total["agree"], total["strict"], NO_STRICT)
        ties = ratio(total["agree_ties"], total["both"], NO_PAIR)
    return {
        "pairwise_agreement": strict,
        "pairwise_agreement_with_ties": ties,
        "tie_rate": ratio(total["tied_pairs"], total["ranked_pairs"], NO_RANKING),
        "kendall_w_mean": ratio(total["w_sum"], total["w_defined"], NO_W),
    }


def headline(arrays: JudgementArrays) -> dict[str, Estimate]:
    """Pooled pairwise agreement, with-ties agreement, tie rate and mean Kendall's W."""
    return pooled(prompt_sums(arrays, pair_table(arrays)))


def pairwise_agreement(arrays: JudgementArrays) -> Estimate:
    """InstructGPT-style: over (prompt, annotator pair, completion pair) both ordered strictly."""
    return headline(arrays)["pairwise_agreement"]


def pairwise_agreement_with_ties(arrays: JudgementArrays) -> Estimate:
    """Three-way answers (A better, B better, tie) over every completion pair both ranked."""
    return headline(arrays)["pairwise_agreement_with_ties"]


def tie_rate(arrays: JudgementArrays) -> Estimate:
    """Fraction of (judgement, completion pair) answers that are ties."""
    return headline(arrays)["tie_rate"]


def kendall_w_mean(arrays: JudgementArrays) -> Estimate:
    """Mean over prompts where W is defined."""
    return headline(arrays)["kendall_w_mean"]

"""Batched Bradley-Terry fits: many small (K <= 9) problems solved together.

P(i beats j) = sigmoid(s_i - s_j). Each ordered pair gets `prior` virtual wins each way (prior=0.5
is one virtual tie per pair), which keeps the maximum finite under perfect separation and pulls
sparsely compared completions towards the middle. The log-likelihood is then strictly concave up
to a common shift, so Newton's method converges in a handful of steps; the shift is pinned by
adding the all-ones matrix to the (graph-Laplacian) negative Hessian, which leaves the step
unchanged because the gradient always sums to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from agreement.metrics._common import group_bounds, pair_index
from agreement.metrics.ranking import signs_of
from agreement.metrics.records import JudgementArrays

DEFAULT_PRIOR = 0.5
TIE_TOL = 1e-6
# Problems per Newton batch, in [K*K, N] cells: small batches keep every temporary in cache,
# which measured ~4x faster than 1M-cell batches on the 2-core dev machine.
_CELLS_PER_CHUNK = 64_000


def pair_wins(sign: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Preference signs [N, M] -> (wins of i over j, wins of j over i); a tie is half of each."""
    tie = 0.5 * ((sign == 0) & valid)
    return (sign > 0) + tie, (sign < 0) + tie


def group_sum(
    group: np.ndarray, values: np.ndarray, weight: np.ndarray, n_groups: int
) -> np.ndarray:
    """[n_groups, X] sum of weight * values[N, X] over the rows of each group; group must be
    sorted (rows are grouped by prompt), so one reduceat does it."""
    out = np.zeros((n_groups, values.shape[1]))
    if group.size:
        keys, starts, _ = group_bounds(group)
        out[keys] = np.add.reduceat(values * weight[:, None], starts, axis=0)
    return out


def _solve_spd(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve a[:, :, n] x[:, n] = rhs[:, n] for every n, in place. a is [K, K, N], symmetric
    positive definite, so Gaussian elimination needs no pivoting; with the problem index last,
    each step is one contiguous vector operation, far cheaper than N tiny LAPACK calls."""
    k = a.shape[0]
    for j in range(k):
        inv = 1.0 / a[j, j]
        for i in range(j + 1, k):
            f = a[i, j] * inv
            a[i, j + 1 :] -= f * a[j, j + 1 :]
            rhs[i] -= f * rhs[j]
    for j in range(k - 1, -1, -1):
        for m in range(j + 1, k):
            rhs[j] -= a[j, m] * rhs[m]
        rhs[j] /= a[j, j]
    return rhs


def _newton(w_ij, w_ji, present, init, tol, max_iter, max_step=4.0):
    """Newton iterations on [M, N] / [K, N] arrays (problem index last, see _solve_spd).

    Gradient and Hessian are scattered into [K, K, N] by fancy indexing rather than formed by
    small matrix products: BLAS calls this thin spend more on threading than on arithmetic
    (measured 30x slower at K = 9 on the loaded 2-core dev machine).
    """
    k, n_prob = present.shape
    ci, cj = pair_index(k)
    diag = np.arange(k)
    n = w_ij + w_ji
    eye = np.eye(k, dtype=bool)[:, :, None]
    # The all-ones block pins the common shift; padded completions get an identity row so their
    # score stays 0 (they are dropped afterwards).
    pin = ((present[:, None, :] & present[None, :, :]) | ((~present)[:, None, :] & eye)).astype(
        float
    )
    s = np.where(present, init, 0.0)
    converged = np.zeros(n_prob, dtype=bool)
    full = np.zeros((k, k, n_prob))
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported to the caller
        p = expit(s[ci] - s[cj])
        r = w_ij - n * p  # d loglik / d s_i for pair (i, j); minus that for s_j
        full[ci, cj] = r
        full[cj, ci] = -r
        full[diag, diag] = 0.0
        grad = full.sum(axis=1)
        h = n * p * (1.0 - p)
        full[ci, cj] = -h
        full[cj, ci] = -h
        full[diag, diag] = -full.sum(axis=1)  # graph Laplacian: rows sum to zero
        lap = full + pin
        step = _solve_spd(lap, grad)
        size = np.abs(step).max(axis=0)
        step *= np.minimum(1.0, max_step / np.maximum(size, 1e-300))
        s += step
        converged |= size < tol
        if converged.all():
            break
    return s, converged, iterations


def fit_pairs(
    w_ij: np.ndarray,
    w_ji: np.ndarray,
    present: np.ndarray,
    *,
    prior: float = DEFAULT_PRIOR,
    init: np.ndarray | None = None,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Fit N problems given per completion pair (i < j, numpy triu order) the weighted wins of i
    over j and of j over i, each [N, M]. present [N, K] marks real completions.

    Returns (scores [N, K]: log-strengths centred on 0 over present completions, NaN elsewhere;
    converged [N]; the most Newton iterations any batch needed).

    Problems whose present completions are the first k columns (every prompt's are) are solved
    at size k rather than K: with K varying from 2 to 9 across prompts, padding everything to 9
    would multiply the elimination work several times over.
    """
    present = np.asarray(present, dtype=bool)
    n_prob, k_max = present.shape
    init = np.zeros((n_prob, k_max)) if init is None else np.nan_to_num(init)
    scores = np.full((n_prob, k_max), np.nan)
    converged = np.zeros(n_prob, dtype=bool)
    count = present.sum(axis=1)
    prefix = (present == (np.arange(k_max)[None, :] < count[:, None])).all(axis=1)
    size = np.where(prefix, count, k_max)
    iterations = 0
    _, cj_max = pair_index(k_max)
    for k in np.unique(size):
        k = int(k)
        rows = np.flatnonzero(size == k)
        cols = np.flatnonzero(cj_max < k)  # the pairs among the first k, in triu(k) order
        if k < 2:
            converged[rows] = True
            scores[rows, :k] = np.where(present[rows, :k], 0.0, np.nan)
            continue
        s, conv, its = _fit_size(
            w_ij[np.ix_(rows, cols)],
            w_ji[np.ix_(rows, cols)],
            present[rows, :k],
            init[rows, :k],
            prior,
            tol,
            max_iter,
        )
        scores[rows, :k] = s
        converged[rows] = conv
        iterations = max(iterations, its)
    return scores, converged, iterations


def _fit_size(w_ij, w_ji, present, init, prior, tol, max_iter):
    n_prob, k = present.shape
    ci, cj = pair_index(k)
    both = present[:, ci] & present[:, cj]
    scores = np.full((n_prob, k), np.nan)
    converged = np.zeros(n_prob, dtype=bool)
    iterations = 0
    chunk = max(1, _CELLS_PER_CHUNK // (k * k))
    for lo in range(0, n_prob, chunk):
        sl = slice(lo, lo + chunk)
        # Virtual wins only between real completions, so padding stays disconnected.
        pr = (prior * both[sl]).T
        pres = present[sl].T
        s, conv, its = _newton(w_ij[sl].T + pr, w_ji[sl].T + pr, pres, init[sl].T, tol, max_iter)
        s = s.T
        cnt = np.maximum(present[sl].sum(axis=1, keepdims=True), 1)
        s = s - np.where(present[sl], s, 0.0).sum(axis=1, keepdims=True) / cnt
        scores[sl] = np.where(present[sl], s, np.nan)
        converged[sl] = conv
        iterations = max(iterations, its)
    return scores, converged, iterations


def fit_bradley_terry(
    wins: np.ndarray, present: np.ndarray, **options
) -> tuple[np.ndarray, np.ndarray, int]:
    """Same as fit_pairs, from a [N, K, K] tensor: wins[n, i, j] = weighted wins of i over j.
    ``options`` are fit_pairs' keyword options (prior, init, tol, max_iter), passed through so
    that their defaults live in one signature."""
    wins = np.asarray(wins, dtype=float)
    ci, cj = pair_index(wins.shape[1])
    return fit_pairs(wins[:, ci, cj], wins[:, cj, ci], present, **options)


def score_signs(scores: np.ndarray, tie_tol: float = TIE_TOL) -> tuple[np.ndarray, np.ndarray]:
    """Preference signs over completion pairs implied by scores (ties within tie_tol)."""
    ci, cj = pair_index(scores.shape[1])
    diff = scores[:, ci] - scores[:, cj]  # positive when i is stronger
    valid = np.isfinite(diff)
    sign = np.where(valid & (np.abs(diff) > tie_tol), np.sign(np.nan_to_num(diff)), 0)
    return sign.astype(np.int8), valid


def tie_groups(scores: np.ndarray, tie_tol: float = TIE_TOL) -> np.ndarray:
    """[N, K] tie-group index (0 = best) from scores; -1 where the score is NaN.

    Sorted neighbours closer than tie_tol share a group, so a group is a chain of near-equal
    scores; with converged fits exact ties differ by ~1e-12 and real gaps by far more.
    """
    filled = np.where(np.isfinite(scores), scores, -np.inf)
    order = np.argsort(-filled, axis=1, kind="stable")
    ordered = np.take_along_axis(filled, order, axis=1)
    gap = np.zeros(ordered.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        gap[:, 1:] = (ordered[:, :-1] - ordered[:, 1:]) > tie_tol
    grp_sorted = np.cumsum(gap, axis=1)
    groups = np.empty_like(grp_sorted)
    np.put_along_axis(groups, order, grp_sorted, axis=1)
    return np.where(np.isfinite(scores), groups, -1)


@dataclass(frozen=True)
class _LooPlan:
    """Everything about the leave-one-out fits that does not depend on the weights."""

    rows: np.ndarray  # ranked rows whose prompt has another ranking
    prompt: np.ndarray  # their prompts
    own_ij: np.ndarray  # [n, M] their own wins
    own_ji: np.ndarray
    fit: np.ndarray  # positions (in rows) that need a Bradley-Terry fit
    c_sign: np.ndarray  # [n, M] consensus signs, filled for the shortcut rows
    c_valid: np.ndarray
    shortcut_partner: np.ndarray  # positions of shortcut rows' partners (weight must be > 0)
    shortcut: np.ndarray  # positions of shortcut rows


def _loo_plan(arrays: JudgementArrays) -> _LooPlan:
    sign, valid = signs_of(arrays)
    rows = np.flatnonzero(arrays.ranked)
    counts = np.bincount(arrays.row_prompt[rows], minlength=arrays.n_prompts)
    n_other = counts[arrays.row_prompt[rows]] - 1
    rows, n_other = rows[n_other >= 1], n_other[n_other >= 1]
    prompt = arrays.row_prompt[rows]
    # One other annotator with a complete ranking: every pair is compared once with the same
    # weight, and in such a balanced design the Bradley-Terry order is the order by wins, i.e.
    # that annotator's ranking, ties included. So their signs are the consensus: no fit needed.
    # (Rows of a prompt are contiguous, so a 2-ranking prompt's rows are neighbours.)
    complete = np.isfinite(arrays.rank[rows]).sum(axis=1) == arrays.n_completions[prompt]
    is_first = np.zeros(rows.size, dtype=bool)
    is_first[:-1] = prompt[:-1] == prompt[1:]
    pos = np.arange(rows.size)
    partner = np.where(is_first, pos + 1, pos - 1)
    simple = (n_other == 1) & complete[np.clip(partner, 0, max(rows.size - 1, 0))]
    shortcut = np.flatnonzero(simple)
    c_sign = np.zeros((rows.size, sign.shape[1]), dtype=np.int8)
    c_valid = np.zeros(c_sign.shape, dtype=bool)
    c_sign[shortcut] = sign[rows[partner[shortcut]]]
    c_valid[shortcut] = valid[rows[partner[shortcut]]]
    own_ij, own_ji = pair_wins(sign[rows], valid[rows])
    return _LooPlan(
        rows=rows,
        prompt=prompt,
        own_ij=own_ij,
        own_ji=own_ji,
        fit=np.flatnonzero(~simple),
        c_sign=c_sign,
        c_valid=c_valid,
        shortcut_partner=partner[shortcut],
        shortcut=shortcut,
    )


def loo_agreement(
    arrays: JudgementArrays,
    row_weight: np.ndarray,
    *,
    prior: float = DEFAULT_PRIOR,
    tie_tol: float = TIE_TOL,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: (agreements, comparisons) with the Bradley-Terry consensus of the *other*
    annotators of its prompt, weighted by row_weight, over completion pairs that both the row
    and that consensus order strictly; rows whose prompt has no other ranking get 0 / 0. The
    third item is the [R, K] leave-one-out scores (NaN where no fit was needed), to warm-start
    the next call via init.
    """
    agree = np.zeros(arrays.n_rows)
    total = np.zeros(arrays.n_rows)
    scores_out = np.full((arrays.n_rows, arrays.k_max), np.nan)
    plan: _LooPlan = arrays.cached("loo_plan", lambda: _loo_plan(arrays))
    rows = plan.rows
    if rows.size == 0:
        return agree, total, scores_out
    weight = np.asarray(row_weight, dtype=float)[rows]
    c_sign, c_valid = plan.c_sign.copy(), plan.c_valid.copy()
    # A partner with zero weight carries no information: the consensus is the prior's all-tie.
    dead = plan.shortcut[weight[plan.shortcut_partner] <= 0]
    c_sign[dead] = 0
    fit = plan.fit
    if fit.size:
        m = plan.own_ij.shape[1]
        both = np.hstack([plan.own_ij, plan.own_ji])
        # Prompt totals over every ranked row, including those that took the shortcut.
        others = group_sum(plan.prompt, both, weight, arrays.n_prompts)[plan.prompt[fit]]
        others -= weight[fit, None] * both[fit]
        scores, _, _ = fit_pairs(
            others[:, :m],
            others[:, m:],
            arrays.completion_mask[plan.prompt[fit]],
            prior=prior,
            init=None if init is None else init[rows[fit]],
        )
        scores_out[rows[fit]] = scores
        c_sign[fit], c_valid[fit] = score_signs(scores, tie_tol)
    sign, valid = signs_of(arrays)
    own, own_valid = sign[rows], valid[rows]
    strict = own_valid & c_valid & (own != 0) & (c_sign != 0)
    agree[rows] = (strict & (own == c_sign)).sum(axis=1)
    total[rows] = strict.sum(axis=1)
    return agree, total, scores_out


def equal_weight_loo(
    arrays: JudgementArrays, *, prior: float = DEFAULT_PRIOR, tie_tol: float = TIE_TOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """loo_agreement with every annotator weighted 1: the report's per-annotator figure and the
    consensus's first round, computed once."""
    return arrays.cached(
        ("loo_equal", prior, tie_tol),
        lambda: loo_agreement(arrays, np.ones(arrays.n_rows), prior=prior, tie_tol=tie_tol),
    )

"""Percentile bootstrap over prompts.

Every headline statistic is a ratio of per-prompt sums (or, for alpha, a function of a summed
coincidence matrix), so a resample is fully described by how often each prompt is drawn, and the
resampled sums are one matrix product of those counts with the per-prompt values.

Prompts with identical per-prompt values are interchangeable, and drawing P prompts uniformly
puts Multinomial(P, n_d / P) draws on a class of n_d identical prompts. So a ratio's prompts are
first collapsed into their D distinct (numerator, denominator) rows and the class counts drawn
directly: the same distribution as resampling prompts, at O(D) instead of O(P) per replicate
(for pairwise agreement at K=4 and 3 annotators, D ~ 100 against P = 100,000). Alpha's
per-prompt coincidence cells are mostly distinct, so there the prompt indices are drawn and the
counts multiplied into a sparse per-prompt cell matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from agreement.metrics._common import Estimate
from agreement.metrics.alpha import Coincidences, alpha_values

# Index draws are made ~1M at a time (small temporaries), but the counts they produce are
# multiplied in batches of ~10M cells: BLAS is far more efficient on one large product than on
# many thin ones (measured ~5x on the 2-core dev machine).
_DRAWS_PER_CHUNK = 1_000_000
_CELLS_PER_BATCH = 10_000_000
# Below this share of distinct rows, multinomial class counts beat drawing prompt indices.
_CLASS_SHARE = 0.25
NO_DEFINED = "the statistic is undefined in every bootstrap resample"


def resample_counts(rng: np.random.Generator, n: int, replicates: int) -> np.ndarray:
    """[replicates, n] float32: how often each of n prompts is drawn in each resample of size n."""
    out = np.empty((replicates, n), dtype=np.float32)
    step = max(1, _DRAWS_PER_CHUNK // max(n, 1))
    for lo in range(0, replicates, step):
        b = min(step, replicates - lo)
        idx = rng.integers(0, n, size=(b, n))
        idx += (np.arange(b) * n)[:, None]
        out[lo : lo + b] = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
    return out


def _distinct_pairs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows, their counts) of a [P, 2] array, via one 1-D sort of complex numbers
    (np.unique(axis=0) compares rows as raw bytes and is ~10x slower)."""
    packed, counts = np.unique(values[:, 0] + 1j * values[:, 1], return_counts=True)
    return np.column_stack([packed.real, packed.imag]), counts


def resampled_sums(rng: np.random.Generator, values: np.ndarray, replicates: int) -> np.ndarray:
    """[replicates, C] column sums of values [P, C] over resamples of its P rows."""
    n = values.shape[0]
    if values.shape[1] == 2:
        rows, counts = _distinct_pairs(values)
        if rows.shape[0] <= _CLASS_SHARE * n:
            draws = rng.multinomial(n, counts / n, size=replicates).astype(np.float32)
            return (draws @ rows.astype(np.float32)).astype(float)
    x = values.astype(np.float32)
    batch = max(1, min(replicates, _CELLS_PER_BATCH // max(n, 1)))
    out = [
        (resample_counts(rng, n, min(batch, replicates - lo)) @ x).astype(float)
        for lo in range(0, replicates, batch)
    ]
    return np.vstack(out)


def _alpha_cells(
    coinc: Coincidences, prompt: np.ndarray, n_prompts: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    """([J, P] sparse per-prompt sums of the J coincidence cells that occur, [J] cell codes).

    Sparse because a prompt touches few of the cells (at K = 9 a prompt fills ~15 of up to 153),
    so the resampled sums cost O(nonzeros) per resample instead of O(P * J).
    """
    v = coinc.domain.size
    # (c, k) and (k, c) end up in the same symmetric matrix, so one cell serves both.
    code = np.minimum(coinc.first, coinc.second) * v + np.maximum(coinc.first, coinc.second)
    cells, col = np.unique(code, return_inverse=True)
    per_prompt = sp.csr_matrix((coinc.weight, (col, prompt)), shape=(cells.size, n_prompts))
    return per_prompt, cells


def resampled_cell_sums(
    rng: np.random.Generator, per_prompt: sp.csr_matrix, replicates: int
) -> np.ndarray:
    """[replicates, J] sums of a sparse [J, P] per-prompt matrix over resamples of prompts.

    A dense float32 product when the matrix is fairly full (K = 4: ~25%, where BLAS is fastest),
    a sparse one when it is not (K up to 9: ~10% of up to 153 cells)."""
    n_cells, n = per_prompt.shape
    if per_prompt.nnz >= 0.2 * n * n_cells:
        values = per_prompt.T.toarray().astype(np.float32)
    else:
        values = per_prompt.T.tocsr()
    batch = max(1, min(replicates, _CELLS_PER_BATCH // max(n, 1)))
    out = []
    for lo in range(0, replicates, batch):
        counts = resample_counts(rng, n, min(batch, replicates - lo))
        out.append(np.asarray(counts @ values, dtype=float))
    return np.vstack(out)


def _interval(values: np.ndarray, confidence: float) -> Estimate:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Estimate(None, NO_DEFINED)
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return Estimate([float(lo), float(hi)])


def bootstrap_intervals(
    ratios: dict[str, tuple[np.ndarray, np.ndarray]],
    n_prompts: int,
    *,
    alpha: dict[str, tuple[Coincidences, np.ndarray, str]] | None = None,
    replicates: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Estimate]:
    """Percentile intervals, value = [low, high].

    ratios: name -> ([P] numerator, [P] denominator) per prompt.
    alpha: name -> (coincidence pairs, [M] prompt index of each pair, level of measurement).
    Each statistic gets its own seeded stream (intervals are marginal). A resample in which a
    statistic is undefined (zero denominator) is left out of its percentiles rather than
    counted as 0. Sums are taken in float32 (one BLAS call per batch); their relative error,
    ~1e-7 per term, is far below the resampling spread.
    """
    alpha = alpha or {}
    names = [*ratios, *alpha]
    streams = dict(zip(names, np.random.SeedSequence(seed).spawn(len(names)), strict=True))
    result = {}
    for name, (num, den) in ratios.items():
        rng = np.random.default_rng(streams[name])
        sums = resampled_sums(rng, np.column_stack([num, den]).astype(float), replicates)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(
                sums[:, 1] > 0, sums[:, 0] / np.where(sums[:, 1] > 0, sums[:, 1], 1), np.nan
            )
        result[name] = _interval(values, confidence)
    for name, (coinc, prompt, level) in alpha.items():
        rng = np.random.default_rng(streams[name])
        per_prompt, cells = _alpha_cells(coinc, prompt, n_prompts)
        sums = resampled_cell_sums(rng, per_prompt, replicates)
        v = coinc.domain.size
        half = np.zeros((replicates, v * v))
        half[:, cells] = sums
        half = half.reshape(replicates, v, v)
        result[name] = _interval(
            alpha_values(half + half.transpose(0, 2, 1), coinc.domain, level), confidence
        )
    return result

"""Krippendorff's alpha from a coincidence matrix built with bincount.

alpha = 1 - D_o / D_e with D_o = sum_ck o_ck delta_ck / n and
D_e = sum_ck n_c n_k delta_ck / (n (n - 1)), where o is the coincidence matrix: every ordered pair
of values from different coders in a unit with m_u pairable values adds 1 / (m_u - 1).
Units with a single value are not pairable and drop out, which is how missing data is handled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agreement.metrics._common import Estimate, group_bounds, within_group_pairs
from agreement.metrics.records import JudgementArrays

LEVELS = ("nominal", "ordinal", "interval", "ratio")
NO_PAIRABLE = "no unit has values from two annotators"
NO_VARIATION = "every pairable value is the same, so no disagreement is expected by chance"


@dataclass(frozen=True)
class Coincidences:
    """The within-unit value pairs behind a coincidence matrix, kept so that subsets of units
    (bootstrap resamples) can be re-summed without rebuilding pairs."""

    domain: np.ndarray  # [V] distinct pairable values, ascending
    first: np.ndarray  # [M] category index of one value of an unordered within-unit pair
    second: np.ndarray  # [M] category index of the other value
    weight: np.ndarray  # [M] 1 / (m_u - 1)
    unit: np.ndarray  # [M] the caller's unit id of the pair

    def matrix(self) -> np.ndarray:
        v = self.domain.size
        half = np.bincount(self.first * v + self.second, self.weight, v * v).reshape(v, v)
        return half + half.T


def coincidences(units: np.ndarray, values: np.ndarray) -> Coincidences:
    """units: [N] integer unit ids; values: [N] floats, NaN = missing. One entry per coder value."""
    units = np.asarray(units, dtype=np.int64).ravel()
    values = np.asarray(values, dtype=float).ravel()
    keep = np.isfinite(values)
    units, values = units[keep], values[keep]
    order = np.argsort(units, kind="stable")
    u, v = units[order], values[order]
    _, starts, sizes = group_bounds(u)
    i, j = within_group_pairs(starts, sizes)
    pairable = np.repeat(sizes >= 2, sizes)
    domain = np.unique(v[pairable])
    cat = np.searchsorted(domain, v)
    m = np.repeat(sizes, sizes)
    return Coincidences(
        domain=domain,
        first=cat[i],
        second=cat[j],
        weight=1.0 / (m[i] - 1.0),
        unit=u[i],
    )


def _distances(domain: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    """[..., V, V] squared differences delta_ck; n_c [..., V] is needed by the ordinal metric."""
    c = domain[:, None]
    k = domain[None, :]
    if level == "nominal":
        d = (c != k).astype(float)
    elif level == "interval":
        d = (c - k) ** 2
    elif level == "ratio":
        s = c + k
        d = np.divide((c - k) ** 2, s**2, out=np.zeros_like(s * 1.0), where=s != 0)
    elif level == "ordinal":
        # delta_ck = (sum of n_g for g from c to k, minus half of n_c and n_k)^2: the rank
        # distance between the two values in the pooled distribution of pairable values.
        cum = np.cumsum(n_c, axis=-1)
        excl = cum - n_c
        idx = np.arange(domain.size)
        lo = np.minimum(idx[:, None], idx[None, :])
        hi = np.maximum(idx[:, None], idx[None, :])
        between = cum[..., hi] - excl[..., lo]
        return (between - (n_c[..., :, None] + n_c[..., None, :]) / 2.0) ** 2
    else:
        raise ValueError(f"unknown level of measurement {level!r}; use one of {LEVELS}")
    return np.broadcast_to(d, n_c.shape[:-1] + d.shape)


def alpha_values(o: np.ndarray, domain: np.ndarray, level: str) -> np.ndarray:
    """Alpha of each [..., V, V] coincidence matrix; NaN where undefined."""
    o = np.asarray(o, dtype=float)
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    d = _distances(domain, n_c, level)
    d_o = (o * d).sum(axis=(-2, -1))
    d_e = (n_c[..., :, None] * n_c[..., None, :] * d).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 - (n - 1.0) * d_o / d_e
    return np.where((n > 0) & (d_e > 0), out, np.nan)


def alpha_estimate(coinc: Coincidences, level: str) -> Estimate:
    if coinc.first.size == 0:
        return Estimate(None, NO_PAIRABLE)
    value = float(alpha_values(coinc.matrix(), coinc.domain, level))
    if not np.isfinite(value):
        return Estimate(None, NO_VARIATION)
    return Estimate(value)


def alpha_from_units(units: np.ndarray, values: np.ndarray, level: str = "interval") -> Estimate:
    return alpha_estimate(coincidences(units, values), level)


def krippendorff_alpha(reliability_data, level: str = "interval") -> Estimate:
    """Alpha for a [coders, units] matrix with NaN for missing values (the layout the
    `krippendorff` package uses, so the two are directly comparable)."""
    data = np.asarray(reliability_data, dtype=float)
    if data.ndim != 2:
        raise ValueError("reliability_data must be a 2-D [coders, units] array")
    units = np.broadcast_to(np.arange(data.shape[1]), data.shape)
    return alpha_from_units(units, data, level)


def _domain(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values. Ratings, flags and midranks are multiples of 1/2 in a small range,
    where a bincount is linear while np.unique sorts all ~R*K values."""
    twice = values * 2.0
    if values.size and np.ptp(twice) < 1e6 and np.array_equal(twice, np.round(twice)):
        lo = twice.min()
        seen = np.bincount((twice - lo).astype(np.int64))
        return (np.flatnonzero(seen) + lo) / 2.0
    return np.unique(values)


def row_coincidences(
    arrays: JudgementArrays, rows: np.ndarray, values: np.ndarray, pairs=None
) -> Coincidences:
    """Coincidences with units (prompt, completion) from per-row values [len(rows), K].

    A unit's values all come from rows of one prompt, so its value pairs are the pairs of those
    rows (same column): no sort over the ~R*K values is needed. pairs, if given, are the
    (i, j) positions within `rows` of every two rows of the same prompt.
    """
    k = arrays.k_max
    prompt = arrays.row_prompt[rows]
    if pairs is None:
        _, starts, sizes = group_bounds(prompt)
        pairs = within_group_pairs(starts, sizes)
    i, j = pairs
    finite = np.isfinite(values)
    m = np.zeros((arrays.n_prompts, k))
    for c in range(k):
        m[:, c] = np.bincount(prompt, finite[:, c], arrays.n_prompts)
    both = finite[i] & finite[j]
    pi, col = np.nonzero(both)
    p = prompt[i[pi]]
    v1, v2 = values[i[pi], col], values[j[pi], col]
    domain = _domain(np.concatenate([v1, v2]))
    return Coincidences(
        domain=domain,
        first=np.searchsorted(domain, v1),
        second=np.searchsorted(domain, v2),
        weight=1.0 / (m[p, col] - 1.0),
        unit=p * k + col,
    )


def ranking_coincidences(arrays: JudgementArrays, pairs=None) -> Coincidences:
    """Units are (prompt, completion); values are midrank positions from ranked judgements.
    pairs: (r1, r2) row pairs of ranked judgements of the same prompt, if already known."""
    rows = np.flatnonzero(arrays.ranked)
    if pairs is not None:
        pos = np.full(arrays.n_rows, -1)
        pos[rows] = np.arange(rows.size)
        pairs = (pos[pairs[0]], pos[pairs[1]])
    return row_coincidences(arrays, rows, arrays.rank[rows], pairs)


def rating_coincidences(arrays: JudgementArrays) -> Coincidences:
    rows = np.flatnonzero(~arrays.skipped)
    return row_coincidences(arrays, rows, arrays.ratings[rows])


def flag_coincidences(arrays: JudgementArrays, flag: int, pairs=None) -> Coincidences:
    """Nominal 0/1 per (prompt, completion) for every judgement that was not skipped."""
    rows = np.flatnonzero(~arrays.skipped)
    values = np.where(arrays.row_mask()[rows], arrays.flags[flag, rows].astype(float), np.nan)
    return row_coincidences(arrays, rows, values, pairs)


def alpha_ranking(arrays: JudgementArrays, level: str = "ordinal") -> Estimate:
    return alpha_estimate(ranking_coincidences(arrays), level)


def alpha_ratings(arrays: JudgementArrays, levels=("ordinal", "interval")) -> dict[str, Estimate]:
    coinc = rating_coincidences(arrays)
    return {level: alpha_estimate(coinc, level) for level in levels}


def alpha_flags(arrays: JudgementArrays) -> dict[str, Estimate]:
    rows = np.flatnonzero(~arrays.skipped)
    _, starts, sizes = group_bounds(arrays.row_prompt[rows])
    pairs = within_group_pairs(starts, sizes)  # the same rows for every flag
    return {
        name: alpha_estimate(flag_coincidences(arrays, f, pairs), "nominal")
        for f, name in enumerate(arrays.flag_names)
    }

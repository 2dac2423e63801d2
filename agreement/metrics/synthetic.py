"""Synthetic judgements around a latent truth, for benchmarks, tests and demos.

Each completion has a latent quality; each annotator sees it through their own noise level, and a
few annotators carry a position bias (favour what is shown first), a length bias (favour longer
outputs) or are near-random. Close utilities are reported as ties.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agreement.metrics._common import no_gc
from agreement.metrics.records import Judgement, Ranking

DAY = 86_400.0


def _rankings(util: np.ndarray, tie_threshold: float, k_row: np.ndarray) -> list[Ranking]:
    """Tie groups, best first, from a [N, K] utility matrix (-inf = padding)."""
    order = np.argsort(-util, axis=1, kind="stable")
    ordered = np.take_along_axis(util, order, axis=1)
    with np.errstate(invalid="ignore"):
        new_group = np.diff(ordered, axis=1) < -tie_threshold
    group = np.concatenate([np.zeros((util.shape[0], 1), int), np.cumsum(new_group, axis=1)], 1)
    out: list[Ranking] = []
    for o, g, k in zip(order.tolist(), group.tolist(), k_row.tolist(), strict=True):
        groups: list[list[int]] = []
        last = -1
        for idx, gid in zip(o[:k], g[:k], strict=True):
            if gid != last:
                groups.append([])
                last = gid
            groups[-1].append(idx)
        out.append(tuple(tuple(map(str, grp)) for grp in groups))
    return out


def _flag_dict(ids: tuple[str, ...], hits: np.ndarray, names: tuple[str, ...]) -> dict:
    out = {}
    for c, cid in enumerate(ids):
        raised = tuple(name for name, hit in zip(names, hits[c], strict=True) if hit)
        if raised:
            out[cid] = raised
    return out


def synthetic_judgements(
    n_prompts: int = 1000,
    *,
    k: int | tuple[int, int] = 4,
    annotators_per_prompt: int = 3,
    n_annotators: int = 30,
    seed: int = 0,
    tie_threshold: float = 0.15,
    skip_rate: float = 0.03,
    gold_fraction: float = 0.02,
    flags: tuple[str, ...] = ("incorrect", "unsafe"),
    days: int = 30,
    start: float = 1_750_000_000.0,
) -> tuple[list[Judgement], dict[str, Ranking]]:
    """(judgements, gold rankings by prompt id). k may be a (low, high) range, inclusive.

    Completion ids are "0".."K-1" within each prompt; prompt ids are "p0", "p1", ...
    """
    params = dict(locals())  # only the parameters: nothing else is bound yet
    with no_gc():
        return _generate(**params)


def _generate(
    *,
    n_prompts,
    k,
    annotators_per_prompt,
    n_annotators,
    seed,
    tie_threshold,
    skip_rate,
    gold_fraction,
    flags,
    days,
    start,
) -> tuple[list[Judgement], dict[str, Ranking]]:
    # The draws happen in a fixed order (prompts, annotators, rankings, ratings and flags, the
    # rest): the same seed gives the same data as long as that order is kept.
    rng = np.random.default_rng(seed)
    lo, hi = (k, k) if isinstance(k, int) else k
    k_p, real, quality, lengths = _prompts(rng, n_prompts, lo, hi)
    noise, pos_bias, len_bias = _annotators(rng, n_annotators)
    per = min(annotators_per_prompt, n_annotators)
    who = np.argsort(rng.random((n_prompts, n_annotators)), axis=1)[:, :per]
    p_idx = np.repeat(np.arange(n_prompts), per)
    a_idx = who.ravel()
    n = p_idx.size
    shown = np.argsort(np.where(real[p_idx], rng.random((n, hi)), 2.0), axis=1)
    first = np.zeros((n, hi))
    first[np.arange(n), shown[:, 0]] = 1.0
    zlen = (np.log(lengths[p_idx]) - np.log(300)) / 0.5
    util = (
        quality[p_idx]
        + noise[a_idx, None] * rng.normal(size=(n, hi))
        + pos_bias[a_idx, None] * first
        + len_bias[a_idx, None] * zlen
    )
    util = np.where(real[p_idx], util, -np.inf)
    rankings = _rankings(util, tie_threshold, k_p[p_idx])
    ratings, flag_hit = _perceived(rng, quality[p_idx], noise[a_idx, None], len(flags))
    skipped = rng.random(n) < skip_rate
    times = np.round(np.exp(rng.normal(np.log(40_000), 0.6, n))).astype(int)
    created = start + rng.uniform(0, days * DAY, n)
    gold_p = rng.random(n_prompts) < gold_fraction

    gold: dict[str, Ranking] = {}
    for p in np.flatnonzero(gold_p):
        order = np.argsort(-quality[p][: k_p[p]])
        gold[f"p{p}"] = tuple((str(c),) for c in order)
    columns = dict(rankings=rankings, ratings=ratings, flag_hit=flag_hit, shown=shown,
                   times=times, skipped=skipped, created=created)  # fmt: skip
    return _records(p_idx, a_idx, k_p, lengths, gold_p, flags, n_annotators, columns), gold


def _prompts(rng, n_prompts: int, lo: int, hi: int):
    """K of each prompt, the [P, K] mask of real completions, their latent quality (-inf on
    padding) and lengths (longer for better quality, with noise)."""
    k_p = rng.integers(lo, hi + 1, size=n_prompts)
    real = np.arange(hi)[None, :] < k_p[:, None]
    quality = np.where(real, rng.normal(size=(n_prompts, hi)), -np.inf)
    lengths = np.round(
        300 * np.exp(0.25 * np.nan_to_num(quality, neginf=0) + rng.normal(0, 0.5, (n_prompts, hi)))
    )
    return k_p, real, quality, lengths


def _annotators(rng, n_annotators: int):
    """Each annotator's noise level, position bias and length bias."""
    noise = rng.uniform(0.3, 1.2, n_annotators)
    noise[rng.random(n_annotators) < 0.1] = 4.0  # near-random clickers
    pos_bias = np.where(rng.random(n_annotators) < 0.15, 1.0, 0.0)
    len_bias = np.where(rng.random(n_annotators) < 0.2, 0.6, 0.0)
    return noise, pos_bias, len_bias


def _perceived(rng, quality: np.ndarray, noise: np.ndarray, n_flags: int):
    """[N, K] Likert ratings and [N, K, F] flag hits from each judgement's noisy view."""
    n, k_max = quality.shape
    seen = quality + 0.6 * noise * rng.normal(size=(n, k_max))
    ratings = np.clip(np.round(4 + 1.3 * np.nan_to_num(seen, neginf=0)), 1, 7).astype(int)
    # Flags fire on poor perceived quality, each at a stricter threshold and with its own noise.
    flag_hit = np.stack(
        [seen + 0.5 * rng.normal(size=(n, k_max)) < -1.2 - 0.4 * f for f in range(n_flags)]
    ).transpose(1, 2, 0)
    return ratings, flag_hit


def _records(p_idx, a_idx, k_p, lengths, gold_p, flags, n_annotators, col) -> list[Judgement]:
    """One Judgement per drawn (prompt, annotator) pair; col holds the per-judgement draws."""
    names = [f"annotator{i:03d}" for i in range(n_annotators)]
    cids = [tuple(str(c) for c in range(kk)) for kk in range(lengths.shape[1] + 1)]
    rankings, ratings, flag_hit, shown, times, skipped, created = (
        col[key]
        for key in ("rankings", "ratings", "flag_hit", "shown", "times", "skipped", "created")
    )
    out: list[Judgement] = []
    for i in range(p_idx.size):
        p, kk = int(p_idx[i]), int(k_p[p_idx[i]])
        ids = cids[kk]
        skip = bool(skipped[i])
        out.append(
            Judgement(
                prompt_id=f"p{p}",
                annotator=names[a_idx[i]],
                completion_ids=ids,
                ranking=() if skip else rankings[i],
                ratings={} if skip else dict(zip(ids, ratings[i, :kk].tolist(), strict=True)),
                flags={} if skip else _flag_dict(ids, flag_hit[i], flags),
                shown_order=tuple(ids[c] for c in shown[i, :kk]),
                time_ms=int(times[i]),
                skipped=skip,
                completion_lengths=dict(
                    zip(ids, lengths[p, :kk].astype(int).tolist(), strict=True)
                ),
                is_gold=bool(gold_p[p]),
                created_at=float(created[i]),
            )
        )
    return out


def demo(n_prompts: int = 300, *, seed: int = 0, bootstrap: int = 200) -> dict[str, Any]:
    """A small end-to-end run for demos: report, weights and a few consensus rankings."""
    # consensus builds on metrics; importing it at module level would make the two circular.
    from agreement.consensus import consensus
    from agreement.metrics.records import build_arrays
    from agreement.metrics.report import project_report

    judgements, gold = synthetic_judgements(n_prompts, k=(2, 6), seed=seed, n_annotators=12)
    arrays = build_arrays(judgements, gold)
    result = consensus(arrays)
    return {
        "report": project_report(arrays, bootstrap=bootstrap, seed=seed),
        "annotator_weights": result.annotator_weights,
        "consensus": [result.prompt(pid) for pid in arrays.prompt_ids[:5]],
    }

"""What an ensemble of reward heads says beyond its mean: disagreement, acquisition, calibration.

An ensemble of E reward heads scores N completions as an ``(E, N)`` array. For a pair (a, b)
each member e gives P_e(a > b) = sigmoid(r_e(a) - r_e(b)), the Bradley-Terry probability the
reward model is trained on. From those E probabilities:

* **spread** (``pair_spread``): their standard deviation, how much the members disagree;
* **BALD** (``pair_bald``): the mutual information between the label and the member,
  H(mean_e P_e) - mean_e H(P_e) (Houlsby et al., 2011): high where the members are each
  confident but disagree, zero where they agree, however unsure they all are;
* **margin** (``pair_margin_uncertainty``): 1 - |2 * mean_e P_e - 1|, high where the mean is
  near a coin flip; it needs no ensemble and ignores disagreement.

A prompt with K completions has K(K-1)/2 pairs; ``prompt_priority`` sums a pair score over
them, so a ranking the model is unsure about in many places goes first. ``select_completions``
picks which K of M candidates to show. ``conservative_score`` is the mean minus k spreads that
PPO may optimise (Coste et al., ICLR 2024), and ``calibration`` compares the mean P(better) with
what humans chose. Pure numpy: the web app, the trainer and the benches share it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RULES = ("spread", "bald", "margin")
_EPS = 1e-12


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def pair_probabilities(scores_a: np.ndarray, scores_b: np.ndarray) -> np.ndarray:
    """Each member's P(a > b), shape ``(E, N)``, from member scores of shape ``(E, N)``."""
    return _sigmoid(np.asarray(scores_a, float) - np.asarray(scores_b, float))


def pair_spread(p: np.ndarray) -> np.ndarray:
    """Standard deviation over members of P(a > b) (0 for one member)."""
    return np.asarray(p, float).std(axis=0)


def pair_bald(p: np.ndarray) -> np.ndarray:
    """Mutual information (nats) between the pair's label and the ensemble member."""
    p = np.asarray(p, float)
    return _entropy(p.mean(axis=0)) - _entropy(p).mean(axis=0)


def pair_margin_uncertainty(p: np.ndarray) -> np.ndarray:
    """1 at a mean P of 0.5, 0 at 0 or 1."""
    return 1.0 - np.abs(2.0 * np.asarray(p, float).mean(axis=0) - 1.0)


def pair_uncertainty(p: np.ndarray, rule: str) -> np.ndarray:
    if rule == "spread":
        return pair_spread(p)
    if rule == "bald":
        return pair_bald(p)
    if rule == "margin":
        return pair_margin_uncertainty(p)
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def prompt_priority(
    scores: np.ndarray, completion_prompt: np.ndarray, n_prompts: int, rule: str = "bald"
) -> np.ndarray:
    """Summed pair uncertainty of each prompt's completions.

    ``scores`` is ``(E, N)`` over all completions, ``completion_prompt`` the prompt index
    (0..n_prompts-1) of each completion. Returns ``(n_prompts,)``; a prompt with fewer than
    two completions scores 0.
    """
    scores = np.atleast_2d(np.asarray(scores, float))
    owner = np.asarray(completion_prompt, int)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(n_prompts + 1))
    left, right = [], []
    for j in range(n_prompts):
        members = order[bounds[j] : bounds[j + 1]]
        a, b = np.triu_indices(len(members), k=1)
        left.append(members[a])
        right.append(members[b])
    if not left:
        return np.zeros(n_prompts)
    a = np.concatenate(left).astype(int)
    b = np.concatenate(right).astype(int)
    u = pair_uncertainty(pair_probabilities(scores[:, a], scores[:, b]), rule)
    return np.bincount(owner[a], weights=u, minlength=n_prompts)


def select_completions(scores: np.ndarray, k: int, rule: str = "bald") -> list[int]:
    """Which ``k`` of M candidate completions to show, greedily: start from the most
    uncertain pair, then add the candidate whose pairs with those chosen add the most
    uncertainty. ``scores`` is ``(E, M)``; returns indices in the order chosen."""
    scores = np.atleast_2d(np.asarray(scores, float))
    m = scores.shape[1]
    if k >= m:
        return list(range(m))
    if k < 2:
        raise ValueError("k must be at least 2")
    p = pair_probabilities(scores[:, :, None], scores[:, None, :])  # (E, M, M)
    u = pair_uncertainty(p.reshape(p.shape[0], -1), rule).reshape(m, m)
    np.fill_diagonal(u, -np.inf)
    first, second = np.unravel_index(int(np.argmax(u)), u.shape)
    chosen = [int(first), int(second)]
    np.fill_diagonal(u, 0.0)
    while len(chosen) < k:
        gain = u[:, chosen].sum(axis=1)
        gain[chosen] = -np.inf
        chosen.append(int(np.argmax(gain)))
    return chosen


def conservative_score(scores: np.ndarray, k: float) -> np.ndarray:
    """Ensemble mean minus ``k`` standard deviations per completion (``k`` = 0: the mean)."""
    scores = np.atleast_2d(np.asarray(scores, float))
    return scores.mean(axis=0) - k * scores.std(axis=0)


def calibration(p_chosen: Sequence[float] | np.ndarray, bins: int = 10) -> dict[str, object]:
    """Reliability of P(chosen > rejected) on human pairs, each as (chosen, rejected).

    A pair is folded so the model's favourite comes first: its predicted probability is
    max(p, 1 - p) and it is "right" when that favourite is the human's choice. Bins over
    [0.5, 1] give the reliability diagram; ECE is the bin-size-weighted mean gap between
    predicted probability and observed rate.
    """
    p = np.asarray(p_chosen, float)
    if p.size == 0:
        return {"n": 0, "ece": None, "bins": []}
    confidence = np.maximum(p, 1 - p)
    right = (p >= 0.5).astype(float)
    ties = p == 0.5
    right[ties] = 0.5  # a coin flip is half right, whichever side it is folded to
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        if not n:
            continue
        predicted, observed = float(confidence[mask].mean()), float(right[mask].mean())
        ece += n / p.size * abs(predicted - observed)
        rows.append(
            {"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": n,
             "predicted": predicted, "observed": observed}
        )  # fmt: skip
    return {"n": int(p.size), "ece": float(ece), "bins": rows}


def wilson_upper(errors: float, n: float, z: float = 1.96) -> float | None:
    """Upper end of the Wilson score interval of ``errors / n`` (None for n = 0)."""
    if n <= 0:
        return None
    p = errors / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


def ranking_confidence(scores: np.ndarray) -> float | None:
    """How sure an ensemble is of the ranking its mean implies: the members' mean P(better)
    of its least sure adjacent pair (None for fewer than two completions). ``scores`` is
    ``(E, K)``; the same quantity ``loop.judges.Verdict.confidence`` reads off pair
    probabilities."""
    scores = np.atleast_2d(np.asarray(scores, float))
    if scores.shape[1] < 2:
        return None
    order = np.argsort(-scores.mean(axis=0), kind="stable")
    p = pair_probabilities(scores[:, order[:-1]], scores[:, order[1:]]).mean(axis=0)
    return float(p.min())


def hybrid_threshold(
    sample: Sequence[tuple[float, float, float]],
    max_error: float,
    min_prompts: int,
    bound: str = "upper",
) -> tuple[dict | None, list[dict]]:
    """The machine-confidence threshold a human-judged calibration sample vouches for.

    ``sample`` holds one ``(confidence, errors, compared pairs)`` per prompt. For each
    candidate threshold t, the prompts at confidence >= t are covered; their error rate is
    their errors over their compared pairs, with a Wilson 95% upper bound. The chosen
    threshold is the lowest t whose error stays within ``max_error`` over at least
    ``min_prompts`` covered prompts: the most coverage the sample supports. ``bound`` says
    which error: ``upper`` (the default), the Wilson bound, or ``estimate``, the sample's
    rate. Picking the lowest t whose *estimate* passes favours thresholds where the sample
    happened to be lucky. On real data the routed prompts' error came out 0.44-0.51 where the
    estimate promised 0.30 (docs/benchmarks.md, issue 16), inside the bound. Returns
    ``(chosen row or None, the whole curve)``.
    """
    if bound not in ("upper", "estimate"):
        raise ValueError(f"bound must be 'upper' or 'estimate', got {bound!r}")
    key = "error_upper" if bound == "upper" else "error_rate"
    ordered = sorted(sample, reverse=True)
    curve, chosen = [], None
    errors = pairs = 0.0
    for i, (confidence, e, n) in enumerate(ordered):
        errors, pairs = errors + e, pairs + n
        if i + 1 < len(ordered) and ordered[i + 1][0] == confidence:
            continue  # a threshold covers every prompt at its confidence
        row = {"threshold": round(confidence, 6), "covered": i + 1,
               "coverage": round((i + 1) / len(ordered), 4),
               "error_rate": round(errors / pairs, 4),
               "error_upper": round(wilson_upper(errors, pairs), 4)}  # fmt: skip
        curve.append(row)
        if row[key] <= max_error and row["covered"] >= min_prompts:
            chosen = row
    return chosen, curve

"""How good is a reward model on held-out comparisons?

:func:`pair_metrics` takes examples and the reward of each of their completions and
reports pairwise accuracy (human ties never form pairs), its Wilson 95% interval, log loss,
expected calibration error of ``sigmoid(r_i - r_j)``, accuracy by human-agreement bucket,
the reward distribution, and two length diagnostics: the accuracy of "the longer answer
wins" and how often the model itself prefers the longer answer. Lengths are in characters,
so the baseline does not depend on a tokenizer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from rlhf.data import Example
from rlhf.scoring import Encoded, collate
from rlhf.utils import quantiles, wilson_interval


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def expected_calibration_error(gaps: Sequence[float], bins: int = 10) -> float:
    """ECE of P(better wins) = sigmoid(gap).

    Every pair is counted in both orientations, (sigmoid(gap), won) and (sigmoid(-gap),
    lost), otherwise all outcomes would be "won" and the calibration curve degenerate.
    """
    if not gaps:
        return float("nan")
    conf_sum = [0.0] * bins
    hit_sum = [0.0] * bins
    count = [0] * bins
    for g in gaps:
        for p, hit in ((_sigmoid(g), 1.0), (_sigmoid(-g), 0.0)):
            b = min(bins - 1, int(p * bins))
            conf_sum[b] += p
            hit_sum[b] += hit
            count[b] += 1
    total = sum(count)
    return sum(abs(conf_sum[b] - hit_sum[b]) for b in range(bins) if count[b]) / total


def _bucket_label(value: float | None, edges: Sequence[float]) -> str:
    if value is None:
        return "unknown"
    lo = None
    for e in edges:
        if value < e:
            return f"<{e:g}" if lo is None else f"[{lo:g},{e:g})"
        lo = e
    return f">={edges[-1]:g}" if edges else "all"


@dataclass
class _Tally:
    """Running sums over every pair, in the order the pairs come."""

    correct: float = 0.0
    gaps: list[float] = field(default_factory=list)
    length_hits: float = 0.0
    longer_picked: float = 0.0
    distinct_length: int = 0
    buckets: dict[str, dict[str, float]] = field(default_factory=dict)
    agreements: list[float] = field(default_factory=list)
    pair_probs: list[float] = field(default_factory=list)


def _tally(
    examples: list[Example], rewards: list[list[float]], agreement_buckets: Sequence[float]
) -> _Tally:
    t = _Tally()
    for ex, rs in zip(examples, rewards, strict=True):
        label = _bucket_label(ex.agreement, agreement_buckets)
        b = t.buckets.setdefault(label, {"n_pairs": 0, "correct": 0.0, "agreement_sum": 0.0})
        for k, p in enumerate(ex.pairs):
            gap = rs[p.better] - rs[p.worse]
            hit = 1.0 if gap > 0 else 0.5 if gap == 0 else 0.0
            t.correct += hit
            t.gaps.append(gap)
            b["n_pairs"] += 1
            b["correct"] += hit
            if ex.agreement is not None:
                t.agreements.append(ex.agreement)
                b["agreement_sum"] += ex.agreement
            if ex.pair_probs is not None and not math.isnan(ex.pair_probs[k]):
                t.pair_probs.append(ex.pair_probs[k])
            _tally_lengths(t, ex, p, rs)
    return t


def _tally_lengths(t: _Tally, ex: Example, p, rs: list[float]) -> None:
    """The "longer wins" baseline, and whether the model itself picked the longer answer."""
    lb, lw = len(ex.completions[p.better]), len(ex.completions[p.worse])
    t.length_hits += 1.0 if lb > lw else 0.5 if lb == lw else 0.0
    if lb != lw:
        t.distinct_length += 1
        r_long, r_short = (rs[p.better], rs[p.worse]) if lb > lw else (rs[p.worse], rs[p.better])
        t.longer_picked += 1.0 if r_long > r_short else 0.5 if r_long == r_short else 0.0


def _by_agreement(buckets: dict[str, dict[str, float]]) -> dict:
    return {
        k: {
            "n_pairs": int(v["n_pairs"]),
            "accuracy": v["correct"] / v["n_pairs"],
            **(
                {"mean_human_agreement": v["agreement_sum"] / v["n_pairs"]}
                if k != "unknown"
                else {}
            ),
        }
        for k, v in sorted(buckets.items())
        if v["n_pairs"]
    }


_SOURCE_KEYS = (
    "n_pairs",
    "accuracy",
    "accuracy_ci95",
    "length_baseline_accuracy",
    "picks_longer_rate",
)


def _by_source(examples: list[Example], rewards: list[list[float]], sources: list[str]) -> dict:
    # A pooled accuracy hides a source the model gets wrong (the larger one dominates).
    out = {}
    for src in sources:
        keep = [i for i, ex in enumerate(examples) if ex.source == src]
        sub = pair_metrics([examples[i] for i in keep], [rewards[i] for i in keep], ())
        out[src] = {k: sub[k] for k in _SOURCE_KEYS if k in sub}
    return out


def pair_metrics(
    examples: list[Example],
    rewards: list[list[float]],
    agreement_buckets: Sequence[float] = (0.6, 0.8),
) -> dict:
    """Metrics over every pair of every example; ``rewards[i][j]`` scores completion j of i."""
    t = _tally(examples, rewards, agreement_buckets)
    gaps = t.gaps
    n = len(gaps)
    if n == 0:
        return {"n_pairs": 0}
    flat = [r for rs in rewards for r in rs]
    mean = sum(flat) / len(flat)
    std = math.sqrt(sum((r - mean) ** 2 for r in flat) / len(flat))
    lo, hi = wilson_interval(t.correct, n)
    out = {
        "n_examples": len(examples),
        "n_pairs": n,
        "accuracy": t.correct / n,
        "accuracy_ci95": [lo, hi],
        "log_loss": -sum(_log_sigmoid(g) for g in gaps) / n,
        "ece": expected_calibration_error(gaps),
        "length_baseline_accuracy": t.length_hits / n,
        "picks_longer_rate": t.longer_picked / t.distinct_length if t.distinct_length else None,
        "reward": {"mean": mean, "std": std, **quantiles(flat)},
        "by_agreement": _by_agreement(t.buckets),
    }
    sources = sorted({ex.source for ex in examples})
    if len(sources) > 1:
        out["by_source"] = _by_source(examples, rewards, sources)
    if t.agreements:
        # Per-pair mean of the prompt-level agreement statistic the data carries.
        out["human_agreement"] = sum(t.agreements) / len(t.agreements)
    if t.pair_probs:
        # Share of annotators siding with the consensus, directly comparable to accuracy.
        out["human_pair_agreement"] = sum(t.pair_probs) / len(t.pair_probs)
    return out


@torch.no_grad()
def score_encoded(
    module, encodings: list[Encoded], pad_id: int, batch_size: int, accelerator=None
) -> list[float]:
    """Rewards for a list of encodings, length-sorted into batches.

    Under several processes every rank runs the same number of batches (FSDP needs all
    ranks in every forward) and the results are gathered on all ranks.
    """
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].input_ids))
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    world = accelerator.num_processes if accelerator is not None else 1
    rank = accelerator.process_index if accelerator is not None else 0
    device = accelerator.device if accelerator is not None else torch.device("cpu")
    n_rounds = math.ceil(len(batches) / world) if batches else 0
    found: list[tuple[int, float]] = []
    for r in range(n_rounds):
        k = r * world + rank
        idx = batches[k] if k < len(batches) else batches[0]  # filler keeps ranks in step
        chunk = collate([encodings[i] for i in idx], pad_id)
        chunk = {key: v.to(device) for key, v in chunk.items()}
        rs = module([chunk]).tolist()
        if k < len(batches):
            found.extend(zip(idx, rs, strict=True))
    if world > 1:
        from accelerate.utils import gather_object

        found = gather_object(found)
    out = [0.0] * len(encodings)
    for i, r in found:
        out[i] = r
    return out


def score_examples(
    module, encoded: list[list[Encoded]], pad_id: int, batch_size: int, accelerator=None
) -> list[list[float]]:
    """Rewards shaped like ``encoded``; identical encodings are scored once."""
    unique: dict[int, int] = {}
    flat: list[Encoded] = []
    for encs in encoded:
        for e in encs:
            if id(e) not in unique:
                unique[id(e)] = len(flat)
                flat.append(e)
    was_training = module.training
    module.eval()
    try:
        scores = score_encoded(module, flat, pad_id, batch_size, accelerator)
    finally:
        module.train(was_training)
    return [[scores[unique[id(e)]] for e in encs] for encs in encoded]

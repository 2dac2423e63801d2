"""Training and evaluating several reward heads at once (:mod:`rlhf.heads` has the layout).

Used only when the model has more than one output (``ensemble_size`` > 1 or ``dimensions``);
a one-output run goes through :func:`rlhf.reward_model.preference_loss` and
:func:`rlhf.reward_eval.evaluate` as before.

The loss of member e on pair p of dimension d is the Llama 2 / Bradley-Terry pair loss on
column ``d * E + e``, ``-log sigmoid(r_better - r_worse - margin)``, times the pair's weight and
the member's bootstrap weight for that pair; members and pairs are averaged the way
``weighting`` says (per comparison, or per prompt then over prompts).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rlhf.data import Example
from rlhf.heads import OVERALL, HeadLayout


@dataclass
class HeadTraining:
    layout: HeadLayout
    dims: list[int]  # dimension index of each training example
    boot: list[list[list[float]]] | None  # [example][member][pair] bootstrap weights
    sizes: list[int]  # completions of each training example


def dimension_of(ex: Example) -> str:
    return ex.meta.get("dimension", OVERALL)


def prepare_heads(config, train: list[Example]) -> HeadTraining | None:
    """The run's head layout and per-example targets; None for a one-output run."""
    layout = HeadLayout.from_config(config)
    if not layout.multi:
        return None
    dims = [layout.dimensions.index(dimension_of(ex)) for ex in train]
    boot = None
    if config.ensemble_size > 1 and config.ensemble_bootstrap:
        boot = []
        for i, ex in enumerate(train):
            rng = random.Random(f"{config.seed}:boot:{i}")
            boot.append([[_poisson1(rng) for _ in ex.pairs] for _ in range(layout.members)])
    return HeadTraining(layout, dims, boot, [len(ex.completions) for ex in train])


def _poisson1(rng: random.Random) -> float:
    """A Poisson(1) draw (Knuth): the online bootstrap's count of one pair for one member."""
    k, p, limit = 0, rng.random(), 0.36787944117144233
    while p > limit:
        k += 1
        p *= rng.random()
    return float(k)


def heads_loss(outputs: torch.Tensor, batch, heads: HeadTraining, idx: list[int],
               weighting: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """``(loss, gap, overall)``: the batch's loss over every member, each pair's gap averaged
    over its dimension's members, and each completion's member-mean reward on its example's
    dimension (what the length penalty looks at)."""
    members = heads.layout.members
    pair_dim, boot = [], []
    for i, n_pairs in zip(idx, batch.pairs_per_prompt.tolist(), strict=True):
        pair_dim.extend([heads.dims[i]] * int(n_pairs))
        if heads.boot is not None:
            boot.append(torch.tensor(heads.boot[i], dtype=torch.float32).reshape(members, -1))
    device = outputs.device
    cols = (torch.tensor(pair_dim, dtype=torch.long, device=device)[None, :] * members
            + torch.arange(members, device=device)[:, None])  # (E, P)  # fmt: skip
    gap = outputs[batch.better[None, :], cols] - outputs[batch.worse[None, :], cols]
    per_pair = -F.logsigmoid(gap - batch.margin) * batch.weight  # (E, P)
    if boot:
        per_pair = per_pair * torch.cat(boot, dim=1).to(device)
    if weighting != "prompt":
        loss = per_pair.sum() / max(1, per_pair.numel())
    else:
        per_prompt = torch.zeros(members, batch.n_prompts, dtype=per_pair.dtype, device=device)
        per_prompt = per_prompt.index_add(1, batch.pair_prompt, per_pair)
        loss = (per_prompt / batch.pairs_per_prompt).mean()
    owner_dim = torch.tensor([heads.dims[i] for i in idx], device=device)
    sizes = torch.tensor([heads.sizes[i] for i in idx], device=device)
    completion_dim = torch.repeat_interleave(owner_dim, sizes)
    comp_cols = completion_dim[:, None] * members + torch.arange(members, device=device)
    overall = outputs.gather(1, comp_cols).mean(dim=1)
    return loss, gap.mean(dim=0), overall


def head_rewards(layout: HeadLayout, examples: list[Example], outputs: list[list[list[float]]],
                 offsets: list[float]) -> list[list[float]]:  # fmt: skip
    """Each completion's reward on its example's own head: the member mean, offset removed."""
    out = []
    for ex, rows in zip(examples, outputs, strict=True):
        cols = layout.columns(dimension_of(ex))
        out.append([sum(r[c] - offsets[c] for c in cols) / len(cols) for r in rows])
    return out


def member_accuracy(layout: HeadLayout, examples: list[Example],
                    outputs: list[list[list[float]]]) -> list[float]:  # fmt: skip
    """Held-out pair accuracy of each member alone (on each example's own dimension)."""
    hits, n = [0.0] * layout.members, 0
    for ex, rows in zip(examples, outputs, strict=True):
        cols = layout.columns(dimension_of(ex))
        for p in ex.pairs:
            n += 1
            for e, c in enumerate(cols):
                diff = rows[p.better][c] - rows[p.worse][c]
                hits[e] += 1.0 if diff > 0 else 0.5 if diff == 0 else 0.0
    return [h / n if n else float("nan") for h in hits]


def evaluate_heads(run, tokenizer, data, enc, module, offsets: list[float],
                   layout: HeadLayout) -> tuple[dict, dict]:  # fmt: skip
    """Like :func:`rlhf.reward_eval.evaluate`: each split over all its examples (each on its
    own head), plus ``heads`` (per dimension) and ``members`` (per ensemble member)."""
    from rlhf.eval_sets import load_eval_file
    from rlhf.evaluate import pair_metrics, score_examples
    from rlhf.reward_model import encode_examples
    from rlhf.reward_setup import input_layout

    config = run.config

    def outputs_of(encs):
        return score_examples(module, encs, enc.pad_id, config.eval_batch_size, run.accelerator)

    def metrics_of(examples, outs):
        return pair_metrics(examples, head_rewards(layout, examples, outs, offsets),
                            config.agreement_buckets)  # fmt: skip

    metrics: dict = {"heads": {}, "members": {}}
    truncation = {"train": enc.train_truncation}
    for split, (encs, trunc) in enc.held.items():
        truncation[split] = trunc
        examples = data.held[split]
        if not examples:
            continue
        outs = outputs_of(encs)
        metrics[split] = metrics_of(examples, outs)
        metrics["members"][split] = member_accuracy(layout, examples, outs)
        for dim in layout.dimensions:
            picked = [k for k, ex in enumerate(examples) if dimension_of(ex) == dim]
            if picked:
                metrics["heads"].setdefault(dim, {})[split] = metrics_of(
                    [examples[k] for k in picked], [outs[k] for k in picked]
                )
    for path in config.eval_files:
        extra = load_eval_file(path, config.labels)
        encs, trunc = encode_examples(tokenizer, extra, config.max_length, *input_layout(config))
        metrics[os.path.basename(path)] = metrics_of(extra, outputs_of(encs))
        truncation[os.path.basename(path)] = trunc
    return metrics, truncation

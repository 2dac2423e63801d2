"""The reward model's loss and batching, as InstructGPT trains it.

One prompt with K ranked completions is one batch element: each completion goes through
the model once, and every ordered pair its ranking implies contributes ``-log
sigmoid(r_better - r_worse - margin)``. A pairwise comparison is the K = 2 case. How the pairs
are weighed against each other is ``weighting`` (:func:`preference_loss`): per comparison
(every pair alike, as a pairwise trainer sees them), per prompt (InstructGPT: a prompt's
pairs share one unit of weight) or per source (every dataset carries the same total). All completions of a micro-batch are flattened, sorted by
length and cut into forward chunks, so sequences of similar length share padding.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rlhf.data import Example
from rlhf.scoring import Encoded, collate, encode_example


class RewardModule(nn.Module):
    """Wraps a ``*ForSequenceClassification`` model so one call runs several padded chunks.

    Distributed wrappers (DDP, FSDP) expect one forward per backward; running every chunk
    inside this module's forward keeps it that way.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        # Several heads (rlhf.heads): every output column, (rows, heads).
        self.all_outputs = getattr(model.config, "num_labels", 1) > 1

    def forward(self, chunks: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        if self.all_outputs:
            return torch.cat([self.model(**c).logits.float() for c in chunks])
        return torch.cat([self.model(**c).logits[:, 0].float() for c in chunks])


@dataclass
class Batch:
    chunks: list[dict[str, torch.Tensor]]
    order: torch.Tensor  # flattened position -> position in the chunk outputs
    better: torch.Tensor
    worse: torch.Tensor
    margin: torch.Tensor
    weight: torch.Tensor
    pair_prompt: torch.Tensor  # which batch element each pair belongs to
    pairs_per_prompt: torch.Tensor
    lengths: torch.Tensor  # completion length in characters, for the correlation penalty
    n_prompts: int
    n_tokens: int
    n_pad: int

    def to(self, device) -> Batch:
        move = {
            k: getattr(self, k).to(device)
            for k in (
                "order",
                "better",
                "worse",
                "margin",
                "weight",
                "pair_prompt",
                "pairs_per_prompt",
                "lengths",
            )
        }
        chunks = [{k: v.to(device) for k, v in c.items()} for c in self.chunks]
        return Batch(
            chunks=chunks,
            n_prompts=self.n_prompts,
            n_tokens=self.n_tokens,
            n_pad=self.n_pad,
            **move,
        )


def encode_examples(
    tokenizer,
    examples: list[Example],
    max_length: int,
    layout: str = "pair",
    prompt_min_fraction: float = 0.0,
) -> tuple[list[list[Encoded]], dict[str, int]]:
    """Encode every completion of every example once; count what truncation cost."""
    cache: dict[tuple[int, str], Encoded] = {}
    out, stats = (
        [],
        {"sequences": 0, "prompt_truncated": 0, "completion_truncated": 0, "examples_truncated": 0},
    )
    for ex in examples:
        encs = []
        # Annotations of the same prompt share completions; encode each text once.
        pkey = id(ex.prompt)
        for text in ex.completions:
            key = (pkey, text)
            enc = cache.get(key)
            if enc is None:
                enc = cache[key] = encode_example(
                    tokenizer, ex.prompt, text, max_length, layout, prompt_min_fraction
                )
            encs.append(enc)
            stats["sequences"] += 1
            stats["prompt_truncated"] += enc.prompt_truncated
            stats["completion_truncated"] += enc.completion_truncated
        stats["examples_truncated"] += any(e.truncated for e in encs)
        out.append(encs)
    return out, stats


def drop_overlong(
    examples: list[Example], encoded: list[list[Encoded]]
) -> tuple[list[Example], list[list[Encoded]], dict[str, int]]:
    """Training examples without the comparisons that had to be truncated (TRL's filter).

    A truncated completion may have lost the very part its comparison turned on, and a
    pair whose two sides are both cut at ``max_length`` hides their length difference; TRL's
    RewardTrainer drops such pairs. A ranking keeps its other pairs: only the comparisons
    touching an over-long completion go, then completions no pair uses, then examples with
    no pair left.
    """
    out_ex, out_enc = [], []
    stats = {"pairs_dropped": 0, "examples_dropped": 0}
    for ex, encs in zip(examples, encoded, strict=True):
        keep = [
            k
            for k, p in enumerate(ex.pairs)
            if not (encs[p.better].truncated or encs[p.worse].truncated)
        ]
        pairs = [ex.pairs[k] for k in keep]
        stats["pairs_dropped"] += len(ex.pairs) - len(pairs)
        if not pairs:
            stats["examples_dropped"] += 1
            continue
        if len(pairs) == len(ex.pairs):
            out_ex.append(ex)
            out_enc.append(encs)
            continue
        used = sorted({i for p in pairs for i in (p.better, p.worse)})
        new = {old: k for k, old in enumerate(used)}
        out_ex.append(
            dataclasses.replace(
                ex,
                completions=[ex.completions[i] for i in used],
                pairs=[
                    dataclasses.replace(p, better=new[p.better], worse=new[p.worse]) for p in pairs
                ],
                pair_probs=[ex.pair_probs[k] for k in keep] if ex.pair_probs else None,
            )
        )
        out_enc.append([encs[i] for i in used])
    return out_ex, out_enc, stats


def make_batch(
    examples: list[Example],
    encoded: list[list[Encoded]],
    pad_id: int,
    chunk_size: int = 0,
    weights: list[list[float]] | None = None,
) -> Batch:
    """Flatten the completions of ``examples`` into length-sorted chunks plus pair indices.

    ``weights`` overrides the per-pair weights (the length-debias reweighting).
    """
    flat: list[Encoded] = []
    lengths: list[float] = []
    better, worse, margin, weight, owner, per_prompt = [], [], [], [], [], []
    for i, (ex, encs) in enumerate(zip(examples, encoded, strict=True)):
        base = len(flat)
        flat.extend(encs)
        lengths.extend(float(len(t)) for t in ex.completions)
        for j, p in enumerate(ex.pairs):
            better.append(base + p.better)
            worse.append(base + p.worse)
            margin.append(p.margin)
            weight.append(weights[i][j] if weights is not None else p.weight)
            owner.append(i)
        per_prompt.append(len(ex.pairs))

    by_len = sorted(range(len(flat)), key=lambda k: len(flat[k].input_ids))
    size = chunk_size if chunk_size > 0 else len(flat)
    chunks, n_tokens, n_pad = [], 0, 0
    for s in range(0, len(by_len), size):
        part = [flat[k] for k in by_len[s : s + size]]
        c = collate(part, pad_id)
        n_tokens += c["input_ids"].numel()
        n_pad += int((c["attention_mask"] == 0).sum())
        chunks.append(c)
    order = torch.empty(len(flat), dtype=torch.long)
    order[torch.tensor(by_len, dtype=torch.long)] = torch.arange(len(flat))
    return Batch(
        chunks=chunks,
        order=order,
        better=torch.tensor(better, dtype=torch.long),
        worse=torch.tensor(worse, dtype=torch.long),
        margin=torch.tensor(margin, dtype=torch.float32),
        weight=torch.tensor(weight, dtype=torch.float32),
        pair_prompt=torch.tensor(owner, dtype=torch.long),
        pairs_per_prompt=torch.tensor(per_prompt, dtype=torch.float32),
        lengths=torch.tensor(lengths, dtype=torch.float32),
        n_prompts=len(examples),
        n_tokens=n_tokens,
        n_pad=n_pad,
    )


WEIGHTINGS = ("comparison", "prompt", "source")


def preference_loss(
    rewards: torch.Tensor, batch: Batch, weighting: str = "comparison"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's loss and the reward gap of every pair.

    ``comparison`` and ``source``: the mean over pairs of the weighted pair loss (the
    source balance is already in the pair weights, :func:`source_pair_weights`);
    ``prompt``: the mean over prompts of each prompt's weighted mean pair loss.
    """
    gap = rewards[batch.better] - rewards[batch.worse]
    per_pair = -F.logsigmoid(gap - batch.margin) * batch.weight
    if weighting != "prompt":
        return per_pair.sum() / max(1, per_pair.numel()), gap
    per_prompt = torch.zeros(batch.n_prompts, dtype=per_pair.dtype, device=per_pair.device)
    per_prompt = per_prompt.index_add(0, batch.pair_prompt, per_pair) / batch.pairs_per_prompt
    return per_prompt.mean(), gap


def source_pair_weights(
    examples: list[Example], weights: list[list[float]] | None = None
) -> list[list[float]]:
    """Pair weights scaled so that every source carries the same total weight.

    The mean weight over all pairs is kept, so the loss scale (and the learning rate that
    suits it) does not change; a single-source file is left as it is.
    """
    base = weights if weights is not None else [[p.weight for p in ex.pairs] for ex in examples]
    totals: dict[str, float] = {}
    for ex, row in zip(examples, base, strict=True):
        totals[ex.source] = totals.get(ex.source, 0.0) + sum(row)
    grand = sum(totals.values())
    if len(totals) < 2 or grand <= 0:
        return [list(row) for row in base]
    scale = {s: grand / (len(totals) * t) if t > 0 else 0.0 for s, t in totals.items()}
    return [[w * scale[ex.source] for w in row] for ex, row in zip(examples, base, strict=True)]


def length_correlation(rewards: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between rewards and completion lengths within a batch."""
    x = rewards - rewards.mean()
    y = lengths - lengths.mean()
    denom = torch.sqrt((x * x).sum() * (y * y).sum()) + 1e-8
    return (x * y).sum() / denom


def batch_rewards(module: nn.Module, batch: Batch) -> torch.Tensor:
    """Rewards in flattened (example, completion) order."""
    return module(batch.chunks)[batch.order]


def balanced_pair_weights(examples: list[Example], coef: float) -> list[list[float]]:
    """Pair weights under which longer-wins and shorter-wins pairs weigh the same in total.

    ``coef`` = 0 leaves the weights alone, 1 balances fully; pairs of equal length keep
    their weight.
    """
    long_w = short_w = 0.0
    for ex in examples:
        for p in ex.pairs:
            lb, lw = len(ex.completions[p.better]), len(ex.completions[p.worse])
            if lb > lw:
                long_w += p.weight
            elif lb < lw:
                short_w += p.weight
    if long_w == 0 or short_w == 0:
        # Nothing to balance against: one side is empty.
        return [[p.weight for p in ex.pairs] for ex in examples]
    target = (long_w + short_w) / 2
    f_long = 1 + coef * (target / long_w - 1)
    f_short = 1 + coef * (target / short_w - 1)
    out = []
    for ex in examples:
        row = []
        for p in ex.pairs:
            lb, lw = len(ex.completions[p.better]), len(ex.completions[p.worse])
            f = f_long if lb > lw else f_short if lb < lw else 1.0
            row.append(p.weight * f)
        out.append(row)
    return out


def mix_sources(idx: list[int], sources: list[str]) -> list[int]:
    """``idx`` reordered so every stretch of it holds each source in its overall share.

    Each source keeps its own (already shuffled) order; the next example comes from the
    source furthest behind its share, so consecutive batches are stratified samples.
    """
    queues: dict[str, list[int]] = {}
    for i in idx:
        queues.setdefault(sources[i], []).append(i)
    if len(queues) < 2:
        return list(idx)
    n = len(idx)
    taken = dict.fromkeys(queues, 0)
    out = []
    for t in range(1, n + 1):
        # Deficit against the ideal count t * share; ties go to the larger source.
        s = max(
            (s for s in queues if taken[s] < len(queues[s])),
            key=lambda s: (t * len(queues[s]) / n - taken[s], len(queues[s])),
        )
        out.append(queues[s][taken[s]])
        taken[s] += 1
    return out


def plan_batches(
    encoded: list[list[Encoded]],
    batch_size: int,
    seed: int,
    epoch: int,
    bucketing: bool,
    bucket_batches: int,
    sources: list[str] | None = None,
    comparisons: list[int] | None = None,
) -> list[list[int]]:
    """The epoch's batches of example indices, in a seeded order.

    With ``sources`` (and no bucketing), every batch is a stratified sample: each source
    appears in it in its share of the data (:func:`mix_sources`). With bucketing, a window
    of ``bucket_batches`` batches' worth of shuffled examples is sorted by length before
    being cut into batches, and the batches are shuffled again, so each batch holds
    examples of similar length while the order stays random; when sources differ in
    length, as they usually do, such batches are mostly one source.

    With ``comparisons`` (each example's number of pairs), ``batch_size`` counts
    comparisons instead of examples: a batch takes examples until it holds at least
    ``batch_size`` pairs (:func:`cut_by_comparisons`).
    """
    rng = random.Random(f"{seed}:{epoch}")
    idx = list(range(len(encoded)))
    rng.shuffle(idx)
    if not bucketing:
        if sources is not None:
            idx = mix_sources(idx, sources)
        return cut_by_comparisons(idx, comparisons, batch_size)

    def size(i: int) -> int:
        return sum(len(e.input_ids) for e in encoded[i])

    window = batch_size * max(1, bucket_batches)
    batches = []
    for w in range(0, len(idx), window):
        part = sorted(idx[w : w + window], key=size)
        batches.extend(cut_by_comparisons(part, comparisons, batch_size))
    rng.shuffle(batches)
    return batches


def cut_by_comparisons(
    idx: list[int], comparisons: list[int] | None, batch_size: int
) -> list[list[int]]:
    """``idx`` cut into batches of ``batch_size`` examples, or, with ``comparisons``, of
    examples until each holds ``batch_size`` pairs: a rankings file then gets the optimiser
    steps of its pairs (TRL split: 163, not 142; its pairs make 172)."""
    if comparisons is None:
        return [idx[s : s + batch_size] for s in range(0, len(idx), batch_size)]
    batches, cur, n = [], [], 0
    for i in idx:
        cur.append(i)
        n += comparisons[i]
        if n >= batch_size:
            batches.append(cur)
            cur, n = [], 0
    if cur:
        batches.append(cur)
    return batches


def lr_lambda(total_steps: int, warmup_steps: int, schedule: str):
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return f

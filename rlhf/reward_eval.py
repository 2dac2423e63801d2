"""After training: shift the rewards so training completions average zero, then evaluate.

The offset is the mean reward over (a seeded sample of) the training completions; every
reported reward, and the scorer reading the card, subtracts it. Evaluation scores the held-out
splits and each ``eval_files`` set and computes :func:`rlhf.evaluate.pair_metrics` on them.
"""

from __future__ import annotations

import os
import random
import time

from rlhf.eval_sets import load_eval_file
from rlhf.reward_loop import LoopResult
from rlhf.reward_setup import EncodedData, Run, Schedule, TrainData, input_layout


def reward_offset(run: Run, enc: EncodedData, module) -> float | list[float]:
    from rlhf.evaluate import score_examples

    config = run.config
    offset_enc = enc.train
    if config.offset_max_completions and len(enc.train) > 0:
        per = max(1, sum(len(e) for e in enc.train) // len(enc.train))
        n = min(len(enc.train), max(1, config.offset_max_completions // per))
        pick = sorted(random.Random(config.seed).sample(range(len(enc.train)), n))
        offset_enc = [enc.train[i] for i in pick]
    unique = list({id(e): e for encs in offset_enc for e in encs}.values())
    train_scores = score_examples(module, [unique], enc.pad_id, config.eval_batch_size,
                                  run.accelerator)  # fmt: skip
    scores = train_scores[0]
    if scores and isinstance(scores[0], list):  # several heads: one offset per column
        return [sum(col) / len(unique) for col in zip(*scores, strict=True)]
    return sum(scores) / len(unique)


def evaluate(run: Run, tokenizer, data: TrainData, enc: EncodedData, module,
             offset: float) -> tuple[dict, dict]:  # fmt: skip
    """``(metrics, truncation)`` keyed by split name, then by each eval file's base name."""
    from rlhf.evaluate import pair_metrics, score_examples
    from rlhf.reward_model import encode_examples

    config = run.config

    def rewards_of(encs):
        rewards = score_examples(module, encs, enc.pad_id, config.eval_batch_size,
                                 run.accelerator)  # fmt: skip
        return [[r - offset for r in rs] for rs in rewards]

    metrics: dict = {}
    truncation = {"train": enc.train_truncation}
    for split, (encs, trunc) in enc.held.items():
        truncation[split] = trunc
        if data.held[split]:
            metrics[split] = pair_metrics(data.held[split], rewards_of(encs),
                                          config.agreement_buckets)  # fmt: skip
    for path in config.eval_files:
        extra = load_eval_file(path, config.labels)
        encs, trunc = encode_examples(tokenizer, extra, config.max_length, *input_layout(config))
        name = os.path.basename(path)
        metrics[name] = pair_metrics(extra, rewards_of(encs), config.agreement_buckets)
        truncation[name] = trunc
    return metrics, truncation


def training_summary(run: Run, schedule: Schedule, loop: LoopResult, t_eval: float,
                     resumed_from: str | None) -> dict:  # fmt: skip
    """How the training went, for the result and the card."""
    config, world, tally = run.config, run.world, loop.tally
    epochs = config.num_epochs if not config.max_steps else loop.steps / schedule.steps_per_epoch
    training = {
        "steps": loop.steps,
        "epochs": epochs,
        "train_seconds": loop.train_seconds,
        # CPU time of this process: on a shared machine, less noisy than wall time.
        "train_cpu_seconds": loop.train_cpu_seconds,
        "comparisons_seen": tally.comparisons * world,
        "comparisons_per_s": tally.comparisons * world / max(1e-9, loop.train_seconds),
        "padding_fraction": tally.pads / max(1, tally.tokens),
        "eval_seconds": time.monotonic() - t_eval,
        "world_size": world,
    }
    if resumed_from:
        training["resumed_from"] = resumed_from
    return training

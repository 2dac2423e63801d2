"""Train a reward model on ranked completions (InstructGPT's recipe), top to bottom.

    python -m rlhf.train_reward --config run.json [--output-dir DIR] [--resume]
    accelerate launch -m rlhf.train_reward --config run.json

Reads a rankings or pairwise snapshot, holds out prompts, trains a
``AutoModelForSequenceClassification`` with one output on the K-wise pair loss, shifts the
rewards so training completions average zero, evaluates, and writes a Hugging Face model
directory plus ``rankwise_card.json``. Options: :class:`rlhf.config.RewardConfig`.

:func:`train_reward` names each stage in the order it runs them; the stages live in
:mod:`rlhf.reward_setup` (processes, data, model, batches, optimiser, resume),
:mod:`rlhf.reward_loop` (the optimiser steps), :mod:`rlhf.reward_eval` (offset, metrics) and
:mod:`rlhf.reward_save` (weights and card); the maths in :mod:`rlhf.reward_model`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from rlhf import checkpoint
from rlhf.callbacks import PrintCallbacks, RunCallbacks, StopRequested
from rlhf.config import ConfigError, RewardConfig
from rlhf.data import DataError
from rlhf.reward_eval import evaluate, reward_offset, training_summary
from rlhf.reward_loop import train_loop
from rlhf.reward_save import input_card, save_reward_model
from rlhf.reward_setup import (
    Schedule,
    announce_start,
    build_optimizer,
    encode_data,
    load_data,
    load_model,
    resume,
    start_run,
)

__all__ = ["input_card", "latest_checkpoint", "main", "train_reward"]


def latest_checkpoint(output_dir: str) -> str | None:
    """The newest complete checkpoint of a run, as a path string (see :mod:`rlhf.checkpoint`)."""
    found = checkpoint.latest_checkpoint(output_dir)
    return str(found) if found else None


def train_reward(config: RewardConfig, callbacks: RunCallbacks | None = None) -> dict:
    """Train, evaluate and save; returns metrics and output paths.

    Raises :class:`StopRequested` when ``callbacks.should_stop()`` answers True (checked
    before every optimiser step).
    """
    run = start_run(config, callbacks)
    data = load_data(config, run.cb)
    tokenizer, model = load_model(config)
    enc = encode_data(config, tokenizer, data)
    schedule = Schedule(config, enc, run.world, run.rank)
    trainee = build_optimizer(run, model, schedule)
    start = resume(run)
    announce_start(run, data, enc, schedule, start.global_step)

    loop = train_loop(run, data, enc, schedule, trainee, start)

    t_eval = time.monotonic()
    offset = reward_offset(run, enc, trainee.module)
    heads = {}
    if enc.heads is not None:
        from rlhf.reward_heads import evaluate_heads

        layout = enc.heads.layout
        layout.offsets = offset
        metrics, truncation = evaluate_heads(run, tokenizer, data, enc, trainee.module, offset,
                                             layout)  # fmt: skip
        offset = sum(offset[c] for c in layout.columns()) / layout.members  # overall, for show
        heads = {"heads": layout.to_card()}
    else:
        metrics, truncation = evaluate(run, tokenizer, data, enc, trainee.module, offset)
    result = {
        "metrics": metrics,
        "training": training_summary(run, schedule, loop, t_eval, start.resumed_from),
        "reward_offset": offset,
        "truncation": truncation,
        "data": {**data.load_stats.as_dict(), "splits": data.split_counts},
        "output_dir": config.output_dir,
        **heads,
    }
    if config.save_model:
        result.update(save_reward_model(run, trainee.module, tokenizer, result))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rlhf.train_reward",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="JSON file of RewardConfig options")
    parser.add_argument("--output-dir", help="overrides output_dir from the config")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="CKPT",
        help="resume from the latest checkpoint in output_dir (or from CKPT)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        config = RewardConfig.from_json(args.config)
        if args.output_dir:
            config.output_dir = args.output_dir
        config.validate_required()
        if args.resume:
            if args.resume == "latest" and latest_checkpoint(config.output_dir) is None:
                raise ConfigError(f"--resume: no checkpoint under {config.output_dir}")
            config.resume_from = args.resume
        result = train_reward(config, PrintCallbacks())
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StopRequested as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 130
    if os.environ.get("RANK", "0") == "0":  # one summary, not one per process
        summary = {k: result[k] for k in ("metrics", "training", "reward_offset", "output_dir")}
        print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line for PPO training.

    python -m rlhf.train_ppo --config run.json [--resume]
    accelerate launch -m rlhf.train_ppo --config run.json      # several GPUs, data parallel

The run file is a JSON object of :class:`rlhf.ppo.config.PPOConfig` fields; see docs/ppo.md.
The final policy, its tokenizer and ``rankwise_card.json`` land in ``output_dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from rlhf.callbacks import PrintCallbacks, StopRequested
from rlhf.config_base import ConfigError
from rlhf.ppo import train_ppo
from rlhf.ppo.config import PPOConfig

__all__ = ["PPOConfig", "main", "train_ppo"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="PPO against a Rankwise reward model")
    parser.add_argument("--config", required=True, help="run file (JSON, PPOConfig fields)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest output_dir/checkpoints/step-N",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        config = PPOConfig.from_json(args.config)
    except (ConfigError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.resume:
        config.resume = True
    try:
        result = train_ppo(config, PrintCallbacks())
    except StopRequested:
        print("stopped", file=sys.stderr)
        return 130
    if os.environ.get("RANK", "0") != "0":  # under accelerate launch only rank 0 reports
        return 0
    summary = {
        "output_dir": result["output_dir"],
        "metrics": result["metrics"],
        "eval": result["eval"],
    }
    print(json.dumps(summary, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a PPO run leaves in ``output_dir``: the final policy and its card.

Checkpoints (``checkpoints/step-N``: policy + value weights, optimiser, LR schedule, KL
controller, RNG states, and ``trainer_state.json`` with the step, metric history and
evaluations) are :mod:`rlhf.checkpoint`'s, shared with the reward trainer; the card is
:mod:`rlhf.card`'s. Both are re-exported here for the callers that knew them by this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlhf.card import CARD_NAME, card_stamp
from rlhf.card import write_card as _write_card
from rlhf.checkpoint import latest_checkpoint

__all__ = ["CARD_NAME", "latest_checkpoint", "save_policy", "write_card"]


def save_policy(policy, tokenizer, out_dir: str | Path, merge_lora: bool) -> None:
    """``save_pretrained`` a plain causal LM that ``AutoModelForCausalLM`` loads as is."""
    if merge_lora:
        policy = policy.merge_and_unload()
    policy.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(str(out_dir))


def write_card(out_dir: str | Path, config, **fields: Any) -> dict[str, Any]:
    """``rankwise_card.json``: where the policy came from, how it was trained, how it did."""
    card = {
        "kind": "ppo_policy",
        **card_stamp(),
        "base_policy": config.policy,
        "snapshot_id": config.snapshot_id,
        "snapshot_sha256": config.snapshot_sha256,
        "reward_model": {"path": config.reward_model, "run_id": config.reward_model_run_id},
        **fields,
        "ppo_config": config.to_dict(),
        "lineage": config.lineage,
    }
    _write_card(out_dir, card)
    return card

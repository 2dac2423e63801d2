"""Where a PPO run keeps its state: ``output_dir/checkpoints/step-N`` and the final policy.

A checkpoint is ``accelerator.save_state`` (policy + value weights, optimiser, LR schedule,
KL controller, every process's RNG) plus ``trainer_state.json`` (step, metric history,
evaluations), written last so that a directory without it is an interrupted save.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

from rlhf.utils import code_version, write_json

CARD_NAME = "rankwise_card.json"
STATE_NAME = "trainer_state.json"
_STEP_DIR = re.compile(r"step-(\d+)")


def checkpoint_dir(out_dir: str | Path, step: int) -> Path:
    return Path(out_dir) / "checkpoints" / f"step-{step}"


def _step_dirs(out_dir: str | Path) -> list[tuple[int, Path]]:
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(
        (int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.fullmatch(p.name))
    )


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete ``checkpoints/step-N`` (one holding trainer_state.json)."""
    complete = [p for _, p in _step_dirs(out_dir) if (p / STATE_NAME).is_file()]
    return complete[-1] if complete else None


def save_checkpoint(accelerator, out_dir: str | Path, step: int, state: dict[str, Any]) -> Path:
    """Every process must call this (save_state gathers per-process RNG states)."""
    path = checkpoint_dir(out_dir, step)
    accelerator.wait_for_everyone()
    # Pickled rather than safetensors: tied embeddings would trip safetensors' shared-tensor
    # check, and these files are only ever read back by this trainer.
    accelerator.save_state(str(path), safe_serialization=False)
    if accelerator.is_main_process:
        write_json(str(path / STATE_NAME), {"step": step, **state})
    accelerator.wait_for_everyone()
    return path


def load_checkpoint(accelerator, path: str | Path) -> dict[str, Any]:
    accelerator.load_state(str(path))
    with open(Path(path) / STATE_NAME, encoding="utf-8") as f:
        return json.load(f)


def prune_checkpoints(out_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step directories (0 keeps everything)."""
    if keep <= 0:
        return
    for _, path in _step_dirs(out_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


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
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "base_policy": config.policy,
        "snapshot_id": config.snapshot_id,
        "snapshot_sha256": config.snapshot_sha256,
        "reward_model": {"path": config.reward_model, "run_id": config.reward_model_run_id},
        **fields,
        "ppo_config": config.to_dict(),
        "lineage": config.lineage,
    }
    write_json(str(Path(out_dir) / CARD_NAME), card)
    return card

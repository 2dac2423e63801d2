"""Where a training run keeps its state, for both trainers: ``output_dir/checkpoints/step-N``.

A checkpoint is ``accelerator.save_state`` (weights, optimiser, LR schedule and whatever else
was registered for checkpointing, every process's RNG) plus ``trainer_state.json`` (the step
and what the trainer needs to carry on), written last so that a directory without it is an
interrupted save: :func:`latest_checkpoint` skips it and :func:`prune_checkpoints` may delete it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from rlhf.utils import write_json

CHECKPOINT_DIR = "checkpoints"
STATE_NAME = "trainer_state.json"
_STEP_DIR = re.compile(r"step-(\d+)")


def checkpoint_dir(out_dir: str | Path, step: int) -> Path:
    return Path(out_dir) / CHECKPOINT_DIR / f"step-{step}"


def _step_dirs(out_dir: str | Path) -> list[tuple[int, Path]]:
    root = Path(out_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    return sorted(
        (int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.fullmatch(p.name))
    )


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete ``checkpoints/step-N`` (one holding trainer_state.json)."""
    complete = [p for _, p in _step_dirs(out_dir) if (p / STATE_NAME).is_file()]
    return complete[-1] if complete else None


def save_checkpoint(
    accelerator,
    out_dir: str | Path,
    step: int,
    state: dict[str, Any],
    *,
    keep: int = 0,
    safe_serialization: bool = True,
) -> Path:
    """Every process must call this (save_state gathers per-process RNG states); the main one
    then writes ``{"step": step, **state}`` and keeps only the newest ``keep`` checkpoints."""
    path = checkpoint_dir(out_dir, step)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(path), safe_serialization=safe_serialization)
    if accelerator.is_main_process:
        write_json(str(path / STATE_NAME), {"step": step, **state})
        prune_checkpoints(out_dir, keep)
    accelerator.wait_for_everyone()
    return path


def load_checkpoint(accelerator, path: str | Path) -> dict[str, Any]:
    """Restore everything ``save_state`` wrote; returns the trainer's state."""
    accelerator.load_state(str(path))
    with open(Path(path) / STATE_NAME, encoding="utf-8") as f:
        return json.load(f)


def prune_checkpoints(out_dir: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step directories (0 keeps everything)."""
    if keep <= 0:
        return
    for _, path in _step_dirs(out_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)

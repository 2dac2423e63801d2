"""One adapter per kind of training run: where its checkpoints are, how its trainer config is
built, which trainer runs it, what of its result is kept, and how its model is registered.

``training.services.execution`` (claim, heartbeat, outcome) is the same for every kind and
asks ``trainer_for(run.kind)`` for the rest. A new kind is one more adapter here (and its
config in ``training.configs``). The trainers themselves are imported when a run trains:
torch is not needed to serve the web.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rewardmodel.models import RewardModel
from rewardmodel.services import trained_model_register_from_run
from training.configs import PPO, REWARD_MODEL, config_build
from training.models import Policy, TrainingRun


class _Trainer:
    kind: str
    model_class: type  # what a successful run registers
    summary_keys: tuple[str, ...]  # what of the trainer's result the run keeps

    def server_keys(self, run: TrainingRun, checkpoint: str | None) -> dict[str, Any]:
        """The config keys the server owns: files, models, lineage."""
        raise NotImplementedError

    def registered_fields(self, run: TrainingRun, summary: dict[str, Any]) -> dict[str, Any]:
        """What only this kind's registry row holds."""
        raise NotImplementedError

    def project_of(self, run: TrainingRun):
        """The project the run's events are about (webhooks)."""
        raise NotImplementedError

    def config_build(self, run: TrainingRun, checkpoint: str | None):
        return config_build(self.kind, run.config, self.server_keys(run, checkpoint))

    def summary(self, result: dict[str, Any]) -> dict[str, Any]:
        return {k: result[k] for k in self.summary_keys if k in result}

    def register(self, run: TrainingRun, card: dict, summary: dict[str, Any]):
        return trained_model_register_from_run(
            model_class=self.model_class, run=run, card=card,
            **self.registered_fields(run, summary),
        )  # fmt: skip


class RewardModelTrainer(_Trainer):
    kind = REWARD_MODEL
    model_class = RewardModel
    summary_keys = ("metrics", "training", "reward_offset", "truncation", "data")

    def latest_checkpoint(self, run: TrainingRun) -> str | None:
        from rlhf.train_reward import latest_checkpoint

        return latest_checkpoint(str(run.artifact_dir))

    def server_keys(self, run: TrainingRun, checkpoint: str | None) -> dict[str, Any]:
        return {
            "model_name_or_path": run.base_model,
            "train_file": str(run.snapshot.path),
            "output_dir": str(run.artifact_dir),
            "snapshot_id": str(run.snapshot_id),
            "snapshot_sha256": run.snapshot.sha256 or None,
            "resume_from": checkpoint,
        }

    def train(self, config, callbacks) -> dict[str, Any]:
        from rlhf.train_reward import train_reward

        return train_reward(config, callbacks)

    def project_of(self, run: TrainingRun):
        return run.snapshot.project

    def registered_fields(self, run: TrainingRun, summary: dict[str, Any]) -> dict[str, Any]:
        return {"snapshot": run.snapshot, "reward_offset": summary.get("reward_offset"),
                "metrics": summary.get("metrics") or {}}  # fmt: skip


class PPOTrainer(_Trainer):
    kind = PPO
    model_class = Policy
    summary_keys = ("metrics", "eval", "steps", "value_model_init")  # history is in the metrics

    def latest_checkpoint(self, run: TrainingRun) -> str | None:
        from rlhf.ppo.checkpoint import latest_checkpoint

        found = latest_checkpoint(run.artifact_dir)
        return str(found) if found else None

    def server_keys(self, run: TrainingRun, checkpoint: str | None) -> dict[str, Any]:
        rm = run.reward_model
        return {
            "policy": run.base_model,
            "reward_model": str(rm.resolved_path),
            "prompts_path": str(_ppo_prompts_file(run)),
            "output_dir": str(run.artifact_dir),
            "resume": checkpoint is not None,
            "snapshot_id": str(rm.snapshot_id) if rm.snapshot_id else None,
            "snapshot_sha256": (rm.snapshot.sha256 or None) if rm.snapshot_id else None,
            "reward_model_run_id": str(rm.training_run_id) if rm.training_run_id else None,
            "lineage": _lineage(run),
        }

    def train(self, config, callbacks) -> dict[str, Any]:
        from rlhf.ppo import train_ppo

        return train_ppo(config, callbacks)

    def project_of(self, run: TrainingRun):
        return run.prompt_project or (run.snapshot.project if run.snapshot_id else None)

    def registered_fields(self, run: TrainingRun, summary: dict[str, Any]) -> dict[str, Any]:
        metrics = {"final": summary.get("metrics", {}), "eval": summary.get("eval", {})}
        return {"reward_model": run.reward_model, "metrics": metrics}


TRAINERS = {t.kind: t for t in (RewardModelTrainer(), PPOTrainer())}


def trainer_for(*, kind: str):
    return TRAINERS[kind]


# --- PPO's inputs ---------------------------------------------------------------------------


def _write_lines(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _ppo_prompt_rows(run: TrainingRun) -> list[dict]:
    rows: list[dict] = []
    if run.prompt_project_id:
        for prompt in run.prompt_project.prompts.order_by("id").iterator():
            if prompt.messages:
                if prompt.messages[-1].get("role") == "assistant":
                    continue  # nothing left for the policy to answer
                rows.append({"id": prompt.external_id, "messages": prompt.messages})
            elif prompt.text.strip():
                rows.append({"id": prompt.external_id, "prompt": prompt.text})
        return rows
    seen: set[str] = set()
    with open(run.snapshot.path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            obj = json.loads(line)
            prompt = obj.get("messages", obj.get("prompt"))
            key = str(obj.get("id") or obj.get("prompt_id") or json.dumps(prompt))
            if key in seen or not prompt:
                continue
            seen.add(key)
            rows.append({"id": key, "messages" if isinstance(prompt, list) else "prompt": prompt})
    return rows


def _ppo_prompts_file(run: TrainingRun) -> Path:
    """The run's prompt set, frozen on the first attempt so that a resume sees the same one."""
    path = run.artifact_dir / "inputs" / "prompts.jsonl"
    if not path.exists():
        rows = _ppo_prompt_rows(run)
        if not rows:
            raise ValueError("the prompt set holds no prompt a policy can answer")
        _write_lines(path, rows)
    return path


def _lineage(run: TrainingRun) -> dict[str, Any]:
    rm = run.reward_model
    snapshot = rm.snapshot
    rm_run = rm.training_run
    return {
        "snapshot": (
            {"id": snapshot.pk, "sha256": snapshot.sha256, "project": snapshot.project_id,
             "format": snapshot.format}
            if snapshot else None
        ),
        "reward_model_run": (
            {"id": rm_run.pk, "base_model": rm_run.base_model} if rm_run else None
        ),
        "reward_model": {"id": rm.pk, "name": rm.name, "path": rm.path},
        "ppo_run": {"id": run.pk, "base_model": run.base_model},
        "prompt_set": (
            {"project": run.prompt_project_id} if run.prompt_project_id
            else {"snapshot": run.snapshot_id}
        ),
    }  # fmt: skip

"""What the GPU worker does with a run: claim it, train, record the outcome, register the model.

A message may arrive more than once (``acks_late``: a killed worker's task is delivered
again; the reaper re-queues stale runs). The claim decides, under a row lock, whether this
delivery trains; whoever trains resumes from the newest checkpoint in the run's folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import traceback
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from ops.heartbeat import Heartbeat
from training.configs import PPO, REWARD_MODEL, config_build
from training.models import Policy, TrainingRun
from training.selectors import heartbeat_stale_after
from webhooks.services import webhook_model_emit, webhook_run_emit

logger = logging.getLogger(__name__)

CARD_NAME = "rankwise_card.json"

CLAIMED = "claimed"
SKIPPED = "skipped"  # finished, cancelled while queued, or superseded by a newer message
BUSY = "busy"  # another worker still heartbeats on it; try this delivery again later


def json_safe(value: Any) -> Any:
    """NaN and infinities become null: PostgreSQL's jsonb refuses them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return json_safe(value.item())
    return str(value)


def _claim(run_id: int, task_id: str) -> tuple[str, TrainingRun | None]:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status in TrainingRun.FINISHED_STATUSES:
            return SKIPPED, run
        if task_id and run.celery_task_id and task_id != run.celery_task_id:
            return SKIPPED, run  # a resume or the reaper queued a newer message
        now = timezone.now()
        if run.status == TrainingRun.Status.QUEUED and run.cancel_requested:
            run.status = TrainingRun.Status.CANCELLED
            run.finished_at = now
            run.save(update_fields=["status", "finished_at"])
            webhook_run_emit(run)
            return SKIPPED, run
        if run.status == TrainingRun.Status.RUNNING:
            beat = run.heartbeat_at or run.started_at
            if beat and now - beat < heartbeat_stale_after():
                return BUSY, run
        run.status = TrainingRun.Status.RUNNING
        run.attempts += 1
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.eta_seconds = None
        run.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "eta_seconds"])
        return CLAIMED, run


def _latest_checkpoint(run: TrainingRun) -> str | None:
    if run.kind == REWARD_MODEL:
        from rlhf.train_reward import latest_checkpoint

        return latest_checkpoint(str(run.artifact_dir))
    from rlhf.ppo_checkpoint import latest_checkpoint

    found = latest_checkpoint(run.artifact_dir)
    return str(found) if found else None


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


def _build_config(run: TrainingRun, checkpoint: str | None):
    out = str(run.artifact_dir)
    if run.kind == REWARD_MODEL:
        server = {
            "model_name_or_path": run.base_model,
            "train_file": str(run.snapshot.path),
            "output_dir": out,
            "snapshot_id": str(run.snapshot_id),
            "snapshot_sha256": run.snapshot.sha256 or None,
            "resume_from": checkpoint,
        }
        return config_build(REWARD_MODEL, run.config, server)
    rm = run.reward_model
    server = {
        "policy": run.base_model,
        "reward_model": str(rm.resolved_path),
        "prompts_path": str(_ppo_prompts_file(run)),
        "output_dir": out,
        "resume": checkpoint is not None,
        "snapshot_id": str(rm.snapshot_id) if rm.snapshot_id else None,
        "snapshot_sha256": (rm.snapshot.sha256 or None) if rm.snapshot_id else None,
        "reward_model_run_id": str(rm.training_run_id) if rm.training_run_id else None,
        "lineage": _lineage(run),
    }
    return config_build(PPO, run.config, server)


def _train(run: TrainingRun, callbacks) -> dict[str, Any]:
    run.artifact_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = _latest_checkpoint(run)
    config = _build_config(run, checkpoint)
    TrainingRun.objects.filter(pk=run.pk).update(resolved_config=json_safe(config.to_dict()))
    host = f"{socket.gethostname()} pid {os.getpid()}"
    start = f"resuming from {checkpoint}" if checkpoint else "starting from scratch"
    callbacks.on_log(f"attempt {run.attempts} on {host}: {start}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if run.kind == REWARD_MODEL:
        from rlhf.train_reward import train_reward

        return train_reward(config, callbacks)
    from rlhf.ppo import train_ppo

    return train_ppo(config, callbacks)


def _summary(run: TrainingRun, result: dict[str, Any]) -> dict[str, Any]:
    if run.kind == REWARD_MODEL:
        keys = ("metrics", "training", "reward_offset", "truncation", "data")
    else:
        keys = ("metrics", "eval", "steps", "value_model_init")  # history is in the metrics
    return json_safe({k: result[k] for k in keys if k in result})


def _read_card(run: TrainingRun) -> dict[str, Any]:
    path = run.artifact_dir / CARD_NAME
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        return json_safe(json.load(fh))


def _mine(run: TrainingRun):
    """This attempt's row, unless another attempt has taken the run over."""
    return TrainingRun.objects.filter(pk=run.pk, attempts=run.attempts)


def _finish_succeeded(run: TrainingRun, result: dict[str, Any]) -> None:
    from rewardmodel.services import (
        model_registered_audit,
        registry_name_free,
        reward_model_register_from_run,
    )

    summary, card = _summary(run, result), _read_card(run)
    run.refresh_from_db(fields=["total_steps"])
    with transaction.atomic():
        updated = _mine(run).update(
            status=TrainingRun.Status.SUCCEEDED,
            step=run.total_steps or _result_steps(result),
            result=summary,
            card=card,
            eta_seconds=0,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            error="",
        )
        if not updated:
            return
        run.refresh_from_db()
        webhook_run_emit(run)
        if run.kind == REWARD_MODEL:
            model = reward_model_register_from_run(run=run, card=card, result=summary)
            webhook_model_emit(model, kind="reward_model", project=run.snapshot.project)
        else:
            name = registry_name_free(Policy, run.name or f"ppo-run-{run.pk}", f"run{run.pk}")
            policy = Policy.objects.create(
                name=name,
                path=run.artifact_path,
                base_model=run.base_model,
                training_run=run,
                reward_model=run.reward_model,
                metrics={"final": summary.get("metrics", {}), "eval": summary.get("eval", {})},
                card=card,
                created_by=run.created_by,
            )
            model_registered_audit(action="policy.register", model=policy, run=run)
            webhook_model_emit(
                policy,
                kind="policy",
                project=run.prompt_project or (run.snapshot.project if run.snapshot_id else None),
            )


def _result_steps(result: dict[str, Any]) -> int:
    steps = result.get("steps") or (result.get("training") or {}).get("steps") or 0
    return int(steps)


def _finish_stopped(run: TrainingRun, reason: str | None) -> str:
    if reason != "cancelled":
        return SKIPPED  # superseded or deleted: the row belongs to someone else now
    with transaction.atomic():  # the event commits with the status it reports
        stopped = _mine(run).update(
            status=TrainingRun.Status.CANCELLED,
            finished_at=timezone.now(),
            eta_seconds=None,
        )
        if stopped:
            run.refresh_from_db()
            webhook_run_emit(run)
    return TrainingRun.Status.CANCELLED


def _finish_failed(run: TrainingRun, exc: BaseException) -> None:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
    current = TrainingRun.objects.filter(pk=run.pk).values_list("log_tail", flat=True).first()
    with transaction.atomic():  # the event commits with the status it reports
        failed = _mine(run).update(
            status=TrainingRun.Status.FAILED,
            error=detail[:4000],
            log_tail=f"{current or ''}\n{tail}".strip()[-20000:],
            finished_at=timezone.now(),
            eta_seconds=None,
        )
        if failed:
            run.refresh_from_db()
            webhook_run_emit(run)


def training_run_execute(*, run_id: int, task_id: str = "") -> str:
    """Train the run if this delivery may; returns what happened (for the task and tests)."""
    from rlhf.callbacks import StopRequested
    from training.progress import DatabaseCallbacks

    outcome, run = _claim(run_id, task_id)
    if outcome != CLAIMED:
        return outcome
    callbacks = DatabaseCallbacks(run)
    # The callbacks beat on every progress report; the thread covers what they cannot see
    # (loading a big model, a long first step), so a live run never looks dead.
    beating = Heartbeat(_mine(run).filter(status=TrainingRun.Status.RUNNING))
    try:
        with beating:
            result = _train(run, callbacks)
    except StopRequested:
        callbacks.on_log("stopped: " + (callbacks.stop_reason() or "stop requested"))
        callbacks.flush()
        return _finish_stopped(run, callbacks.stop_reason())
    except Exception as exc:
        logger.exception("training run %s failed", run_id)
        callbacks.flush()
        _finish_failed(run, exc)
        return TrainingRun.Status.FAILED
    callbacks.flush()
    _finish_succeeded(run, result)
    return TrainingRun.Status.SUCCEEDED

"""What the GPU worker does with a run: claim it, train, record the outcome, register the model.

What differs between the kinds (checkpoints, config, trainer, summary, registration) is in
``training.services.trainers``, one adapter per kind; this module is the same for all.

A message may arrive more than once (``acks_late``: a killed worker's task is delivered
again; the reaper re-queues stale runs). The claim decides, under a row lock, whether this
delivery trains; whoever trains resumes from the newest checkpoint in the run's folder.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.heartbeat import Heartbeat
from rlhf.card import read_card
from rlhf.utils import json_safe
from training.models import TrainingRun
from training.selectors import heartbeat_stale_after
from training.services.trainers import trainer_for
from webhooks.services import webhook_model_emit, webhook_run_emit

logger = logging.getLogger(__name__)

CLAIMED = "claimed"
SKIPPED = "skipped"  # finished, cancelled while queued, or superseded by a newer message
BUSY = "busy"  # another worker still heartbeats on it; try this delivery again later


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
            webhook_run_emit(run=run)
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


def _train(run: TrainingRun, callbacks) -> dict[str, Any]:
    trainer = trainer_for(kind=run.kind)
    run.artifact_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = trainer.latest_checkpoint(run)
    config = trainer.config_build(run, checkpoint)
    TrainingRun.objects.filter(pk=run.pk).update(resolved_config=json_safe(config.to_dict()))
    host = f"{socket.gethostname()} pid {os.getpid()}"
    start = f"resuming from {checkpoint}" if checkpoint else "starting from scratch"
    callbacks.on_log(f"attempt {run.attempts} on {host}: {start}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return trainer.train(config, callbacks)


def _read_card(run: TrainingRun) -> dict[str, Any]:
    return json_safe(read_card(run.artifact_dir))


def _mine(run: TrainingRun):
    """This attempt's row, unless another attempt has taken the run over."""
    return TrainingRun.objects.filter(pk=run.pk, attempts=run.attempts)


def _finish_succeeded(run: TrainingRun, result: dict[str, Any]) -> None:
    trainer = trainer_for(kind=run.kind)
    summary, card = json_safe(trainer.summary(result)), _read_card(run)
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
        webhook_run_emit(run=run)
        model = trainer.register(run, card, summary)
        webhook_model_emit(model=model, kind=model.KIND, project=trainer.project_of(run))


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
            webhook_run_emit(run=run)
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
            webhook_run_emit(run=run)


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

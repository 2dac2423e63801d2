"""The bridge from a trainer's callbacks to the run's database row.

Only the worker imports this (it pulls in :mod:`rlhf.callbacks`, which is torch-free, but the
trainers it listens to are not). Every write names its columns, so the API's concurrent
``cancel_requested`` update is never overwritten by a progress write.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from django.conf import settings
from django.utils import timezone

from rlhf.callbacks import RunCallbacks
from training.models import TrainingMetric, TrainingRun, TrainingSample

LOG_TAIL_LINES = 200


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _scalars(metrics: dict[str, Any]) -> dict[str, float | int | bool]:
    """JSON can hold neither NaN nor tensors; charts only plot numbers."""
    out: dict[str, float | int | bool] = {}
    for key, value in metrics.items():
        if isinstance(value, (bool, int)):
            out[key] = value
        elif isinstance(value, float):
            if math.isfinite(value):
                out[key] = value
        elif hasattr(value, "item"):
            try:
                v = float(value.item())
            except (TypeError, ValueError):
                continue
            if math.isfinite(v):
                out[key] = v
    return out


class DatabaseCallbacks(RunCallbacks):
    """Writes progress, metrics, samples, checkpoints and a heartbeat for one attempt of a run.

    ``should_stop`` reads the row at most every ``poll_seconds`` (steps of a tiny model take
    milliseconds; a query per step would dominate). It answers True when a cancel was
    requested or when another attempt took the run over (the reaper re-queued it because this
    worker looked dead); :meth:`stop_reason` says which.
    """

    def __init__(
        self,
        run: TrainingRun,
        poll_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self.run_id = run.pk
        self.attempt = run.attempts
        self.poll_seconds = (
            _setting("TRAINING_CANCEL_POLL_SECONDS", 1.0) if poll_seconds is None else poll_seconds
        )
        self.heartbeat_seconds = (
            _setting("TASK_HEARTBEAT_SECONDS", 30.0)
            if heartbeat_seconds is None
            else heartbeat_seconds
        )
        self.log = deque(run.log_tail.splitlines() if run.log_tail else [], maxlen=LOG_TAIL_LINES)
        self._log_dirty = False
        self._last_poll = -math.inf
        self._last_beat = time.monotonic()
        self._stop: str | None = None
        # ETA from this attempt's pace: a resumed run's earlier steps took no time here.
        self._pace_origin: tuple[float, int] | None = None

    # -- helpers ----------------------------------------------------------------------------
    def _update(self, **fields: Any) -> None:
        fields["heartbeat_at"] = timezone.now()
        if self._log_dirty:
            fields["log_tail"] = "\n".join(self.log)
            self._log_dirty = False
        TrainingRun.objects.filter(pk=self.run_id, attempts=self.attempt).update(**fields)
        self._last_beat = time.monotonic()

    def _eta(self, step: int, total: int) -> int | None:
        now = time.monotonic()
        if self._pace_origin is None:
            self._pace_origin = (now, step)
            return None
        t0, s0 = self._pace_origin
        if step <= s0 or total <= step:
            return 0 if total and step >= total else None
        return round((now - t0) / (step - s0) * (total - step))

    def flush(self) -> None:
        """Write what is buffered (the log tail) now; the driver calls it before finishing."""
        self._update()

    def stop_reason(self) -> str | None:
        return self._stop

    # -- RunCallbacks -----------------------------------------------------------------------
    def on_start(self, total_steps: int, info: dict[str, Any]) -> None:
        # An earlier attempt's metric points and samples after the checkpoint this attempt
        # starts from (all of them, from scratch) are redone now: without this, a resumed run
        # charts those steps twice.
        start = int(info.get("start_step") or 0)
        for model in (TrainingMetric, TrainingSample):
            superseded = model.objects.filter(run_id=self.run_id)
            (superseded.filter(step__gt=start) if start else superseded).delete()
        self._update(total_steps=total_steps, info=info)

    def on_progress(self, step: int, total_steps: int, metrics: dict[str, Any]) -> None:
        TrainingMetric.objects.create(run_id=self.run_id, step=step, values=_scalars(metrics))
        self._update(step=step, total_steps=total_steps, eta_seconds=self._eta(step, total_steps))

    def on_log(self, line: str) -> None:
        self.log.append(line)
        self._log_dirty = True

    def on_checkpoint(self, step: int, path: str) -> None:
        self.on_log(f"checkpoint at step {step}: {path}")
        self._update(last_checkpoint=path)

    def on_samples(self, step: int, samples: list[dict[str, Any]]) -> None:
        # Training samples change with every batch; only the fixed evaluation prompts make a
        # before/after table worth keeping.
        rows = [
            TrainingSample(
                run_id=self.run_id,
                step=step,
                prompt=s.get("prompt"),
                response=s.get("response") or "",
                score=s.get("score"),
                length=s.get("length"),
                ended_with_eos=s.get("ended_with_eos"),
            )
            for s in samples
            if s.get("split", "eval") == "eval"
        ]
        if rows:
            TrainingSample.objects.bulk_create(rows)

    def should_stop(self) -> bool:
        if self._stop:
            return True
        now = time.monotonic()
        if now - self._last_poll < self.poll_seconds:
            return False
        self._last_poll = now
        row = (
            TrainingRun.objects.filter(pk=self.run_id)
            .values("cancel_requested", "attempts", "status")
            .first()
        )
        if row is None:
            self._stop = "deleted"
        elif row["cancel_requested"]:
            self._stop = "cancelled"
        elif row["attempts"] != self.attempt or row["status"] != TrainingRun.Status.RUNNING:
            self._stop = "superseded"
        elif now - self._last_beat >= self.heartbeat_seconds:
            # Long steps between progress reports must not look like a dead worker.
            self._update()
        return self._stop is not None

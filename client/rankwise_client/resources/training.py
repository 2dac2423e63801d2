"""``client.runs``: start reward-model and PPO runs, follow, cancel, resume, read metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from rankwise_client.errors import JobFailed, WaitTimeout
from rankwise_client.progress import ProgressLine, bar, human_seconds
from rankwise_client.resources.base import Resource, object_id, project_slug
from rankwise_client.training_config import PPOConfig, RewardModelConfig
from rankwise_client.types import MetricPoint, RunProgress, Sample, TrainingRun

# What the progress line shows, in this order, when a run reports it.
LINE_METRICS = ("loss", "accuracy", "score", "reward", "kl")


def _config_dict(config: Any, expected: type) -> dict:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    if isinstance(config, expected):
        return config.to_dict()
    raise TypeError(f"config: expected {expected.__name__} or a dict, got {type(config).__name__}")


def progress_text(run: TrainingRun, values: dict[str, Any]) -> str:
    """``run 7 running [#####.....] step 3/6 loss 0.6931 accuracy 0.500 eta 4s``."""
    p = run.progress
    text = f"run {run.id} {run.status} {bar(p.fraction)} step {p.step}/{p.total_steps or '?'}"
    for key in LINE_METRICS:
        value = values.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            text += f" {key} {value:.4g}"
    if run.status == "running" and p.eta_seconds is not None:
        text += f" eta {human_seconds(p.eta_seconds)}"
    return text


class Runs(Resource):
    def start_reward_model(
        self,
        snapshot,
        base_model: str,
        config: RewardModelConfig | dict | None = None,
        *,
        name: str = "",
    ) -> TrainingRun:
        """Queue a reward-model run on a ready ``rankings`` or ``pairwise`` snapshot.
        ``base_model``: a model directory on the worker's machine. Not retried (each call
        starts a run)."""
        body = {
            "kind": "reward_model",
            "name": name,
            "snapshot": object_id(snapshot, "snapshot"),
            "base_model": str(base_model),
            "config": _config_dict(config, RewardModelConfig),
        }
        return self._start(body)

    def start_ppo(
        self,
        base_model: str,
        reward_model,
        config: PPOConfig | dict | None = None,
        *,
        prompt_project=None,
        snapshot=None,
        name: str = "",
    ) -> TrainingRun:
        """Queue a PPO run of the SFT policy ``base_model`` against a registered reward model,
        on the prompts of ``prompt_project`` (a Project, its id or slug) or of ``snapshot``."""
        body: dict[str, Any] = {
            "kind": "ppo",
            "name": name,
            "base_model": str(base_model),
            "reward_model": object_id(reward_model, "reward_model"),
            "config": _config_dict(config, PPOConfig),
        }
        if prompt_project is not None:
            body["prompt_project"] = self._client.project_id(prompt_project)
        if snapshot is not None:
            body["snapshot"] = object_id(snapshot, "snapshot")
        return self._start(body)

    def _start(self, body: dict) -> TrainingRun:
        return TrainingRun.from_api(
            self._http.call("POST", "training-runs/", json=body), self._client
        )

    def get(self, run) -> TrainingRun:
        data = self._http.get(f"training-runs/{object_id(run, 'run')}/")
        return TrainingRun.from_api(data, self._client)

    def list(self, *, kind: str | None = None, status: str | None = None, project=None,
             page_size: int | None = None) -> Iterator[TrainingRun]:  # fmt: skip
        """Newest first, every page (list entries omit config, log tail, result and card).
        ``project`` (a Project or its slug): the runs whose snapshot or prompts are from it."""
        query = {"kind": kind, "status": status, "page_size": page_size,
                 "project": project_slug(project) if project is not None else None}  # fmt: skip
        for item in self._http.paginate("training-runs/", query):
            yield TrainingRun.from_api(item, self._client)

    def cancel(self, run) -> TrainingRun:
        """A queued run is cancelled at once, a running one stops before its next step
        (``watch()`` to see it end). Conflict (409) if it has finished."""
        data = self._http.call("POST", f"training-runs/{object_id(run, 'run')}/cancel/")
        return TrainingRun.from_api(data, self._client)

    def resume(self, run) -> TrainingRun:
        """A failed or cancelled run with a checkpoint goes back to the queue; 409 otherwise."""
        data = self._http.call("POST", f"training-runs/{object_id(run, 'run')}/resume/")
        return TrainingRun.from_api(data, self._client)

    def metrics(self, run, *, after: int = 0) -> list[MetricPoint]:
        data = self._http.get(f"training-runs/{object_id(run, 'run')}/metrics/", {"after": after})
        return [MetricPoint.from_api(p, self._client) for p in data.get("points", [])]

    def metrics_df(self, run):
        """One row per progress report: ``step``, ``created_at`` and one column per value."""
        from rankwise_client.resources.snapshots import _optional

        pd = _optional("pandas", "pandas")
        rows = [{"step": p.step, "created_at": p.created_at, **p.values} for p in self.metrics(run)]
        return pd.DataFrame(rows, columns=None if rows else ["step", "created_at"])

    def samples(self, run) -> list[Sample]:
        data = self._http.get(f"training-runs/{object_id(run, 'run')}/samples/")
        return [Sample.from_api(s, self._client) for s in data]

    def watch(
        self,
        run,
        *,
        poll: float = 2.0,
        timeout: float | None = None,
        progress: bool = True,
        raise_on_failure: bool = True,
        on_metric: Callable[[MetricPoint], None] | None = None,
        until: Callable[[TrainingRun], bool] | None = None,
    ) -> TrainingRun:
        """Follow a run until it finishes, one metrics request per ``poll`` seconds (it
        carries status, progress and the new points). Returns the finished run; raises
        JobFailed if it failed or was cancelled (``raise_on_failure=False`` returns it
        instead) and WaitTimeout after ``timeout`` seconds (the run goes on).

        ``until(run)`` returning true stops the watch early and returns the run as it is
        then (e.g. ``until=lambda r: r.progress.step >= 100``)."""
        rid = object_id(run, "run")
        line = ProgressLine(enabled=progress)
        latest: dict[str, Any] = {}
        after = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        current = self.get(rid)
        while True:
            data = self._http.get(f"training-runs/{rid}/metrics/", {"after": after})
            for raw in data.get("points", []):
                point = MetricPoint.from_api(raw, self._client)
                after = max(after, point.id or 0)
                latest.update(point.values)
                if on_metric is not None:
                    on_metric(point)
            current.status = data.get("status", current.status)
            current.progress = RunProgress.from_api(data.get("progress") or {}, self._client)
            line.update(progress_text(current, latest))
            if current.status in TrainingRun.FINISHED:
                break
            if until is not None and until(current):
                line.close()
                return self.get(rid)
            if deadline is not None and time.monotonic() >= deadline:
                line.close()
                raise WaitTimeout(current, f"run {rid} still {current.status} after {timeout:g}s")
            time.sleep(poll)
        final = self.get(rid)
        line.close(progress_text(final, latest))
        if final.status != "succeeded" and raise_on_failure:
            reason = final.error or ("cancelled" if final.status == "cancelled" else "")
            raise JobFailed(final, f"run {rid} {final.status}: {reason}")
        return final

"""Training runs, their metrics and samples, the model registry, generation jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rankwise_client.types.base import ApiObject

if TYPE_CHECKING:
    import pandas


@dataclass(kw_only=True)
class RunProgress(ApiObject):
    step: int = 0
    total_steps: int = 0
    fraction: float = 0.0
    eta_seconds: int | None = None


@dataclass(kw_only=True)
class MetricPoint(ApiObject):
    """One progress report: reward model ``loss``, ``accuracy``, ``lr``...; PPO ``score``,
    ``reward``, ``kl``, ``entropy``... (and the evaluation's ``eval_*`` at checkpoints)."""

    id: int | None = None
    step: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(kw_only=True)
class Sample(ApiObject):
    """PPO: a response to a fixed evaluation prompt, at step 0, each checkpoint and the end."""

    id: int | None = None
    step: int = 0
    prompt: Any = None
    response: str = ""
    score: float | None = None
    length: int | None = None
    ended_with_eos: bool | None = None


@dataclass(kw_only=True)
class TrainingRun(ApiObject):
    id: int | None = None
    kind: str = ""
    name: str = ""
    status: str = ""
    cancel_requested: bool = False
    progress: RunProgress = field(default_factory=RunProgress)
    created_by: str | None = None
    snapshot: int | None = None
    reward_model: int | None = None
    prompt_project: int | None = None
    base_model: str = ""
    config: dict = field(default_factory=dict)
    resolved_config: dict = field(default_factory=dict)
    attempts: int = 0
    heartbeat_at: datetime | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    artifact_path: str = ""
    last_checkpoint: str = ""
    error: str = ""
    log_tail: str = ""
    info: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)
    celery_task_id: str = ""
    registered_reward_model: int | None = None
    registered_policy: int | None = None
    _nested: ClassVar[dict[str, type]] = {"progress": RunProgress}
    FINISHED: ClassVar[frozenset[str]] = frozenset({"succeeded", "failed", "cancelled"})

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    def refresh(self) -> TrainingRun:
        return self._refresh_from(self.client.runs.get(self.id))

    def watch(self, **kwargs) -> TrainingRun:
        """Follow the run to its end with a progress line (step / loss / accuracy / ETA);
        returns self, updated. Raises JobFailed if it fails or is cancelled (unless
        ``raise_on_failure=False``)."""
        return self._refresh_from(self.client.runs.watch(self.id, **kwargs))

    def wait(self, **kwargs) -> TrainingRun:
        """``watch`` without the progress line."""
        kwargs.setdefault("progress", False)
        return self.watch(**kwargs)

    def cancel(self) -> TrainingRun:
        return self._refresh_from(self.client.runs.cancel(self.id))

    def resume(self) -> TrainingRun:
        return self._refresh_from(self.client.runs.resume(self.id))

    def metrics(self, after: int = 0) -> list[MetricPoint]:
        return self.client.runs.metrics(self.id, after=after)

    def metrics_df(self) -> pandas.DataFrame:
        return self.client.runs.metrics_df(self.id)

    def samples(self) -> list[Sample]:
        return self.client.runs.samples(self.id)

    def model(self) -> RewardModel | Policy | None:
        """The registry entry the run produced (reward model or policy), once it succeeded."""
        if self.registered_reward_model is not None:
            return self.client.reward_models.get(self.registered_reward_model)
        if self.registered_policy is not None:
            return self.client.policies.get(self.registered_policy)
        return None


@dataclass(kw_only=True)
class _Registered(ApiObject):
    id: int | None = None
    name: str = ""
    path: str = ""  # relative to the server's ARTIFACTS_DIR
    base_model: str = ""
    training_run: int | None = None
    metrics: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)
    created_at: datetime | None = None

    def local_path(self, artifacts_dir: str | Path | None = None) -> Path:
        """The model folder on this machine, when it shares the server's artifacts volume."""
        return self.client.models_local_path(self, artifacts_dir)

    def download(self, dest: str | Path, artifacts_dir: str | Path | None = None, *,
                 progress: bool = True) -> Path:  # fmt: skip
        """The model folder in ``dest``: downloaded over the API, or copied from
        ``artifacts_dir`` where this machine mounts the server's (see
        ``Client.models_download``)."""
        return self.client.models_download(self, dest, artifacts_dir, progress=progress)


@dataclass(kw_only=True)
class RewardModel(_Registered):
    snapshot: int | None = None
    reward_offset: float | None = None

    def score(self, prompt: Any, completions: list[str]) -> list[float]:
        """Rewards of the completions (offset-corrected: training completions average 0)."""
        return self.client.reward_models.score(self.id, prompt, completions)

    def score_many(self, items: list[dict]) -> list[list[float]]:
        return self.client.reward_models.score_many(self.id, items)


@dataclass(kw_only=True)
class Policy(_Registered):
    reward_model: int | None = None

    def generate(self, project, prompts, **kwargs) -> GenerationJob:
        return self.client.generations.create(project, prompts, policy=self.id, **kwargs)


@dataclass(kw_only=True)
class GenerationJob(ApiObject):
    id: int | None = None
    project: int | None = None
    policy: int | None = None
    model_path: str | None = None
    model_name: str = ""
    prompts: list = field(default_factory=list)
    k: int | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    status: str = ""
    error: str = ""
    result: dict = field(default_factory=dict)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    FINISHED: ClassVar[frozenset[str]] = frozenset({"succeeded", "failed", "cancelled"})

    def refresh(self) -> GenerationJob:
        return self._refresh_from(self.client.generations.get(self.id))

    def wait(self, **kwargs) -> GenerationJob:
        return self._refresh_from(self.client.generations.wait(self.id, **kwargs))

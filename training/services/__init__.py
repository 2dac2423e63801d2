"""Write-side of the training app: run lifecycle, the worker's execution, generate-for-ranking."""

from training.services.execution import training_run_execute
from training.services.generation import (
    generation_job_execute,
    generation_job_start,
    generation_jobs_reap_stale,
)
from training.services.runs import (
    RunStateError,
    training_run_cancel,
    training_run_resume,
    training_run_start,
    training_runs_reap_stale,
)

__all__ = [
    "RunStateError",
    "generation_job_execute",
    "generation_job_start",
    "generation_jobs_reap_stale",
    "training_run_cancel",
    "training_run_execute",
    "training_run_resume",
    "training_run_start",
    "training_runs_reap_stale",
]

"""Read-side queries of the training app."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotate.constants import Roles
from annotate.selectors import user_has_role
from rlhf.utils import paired_change, prompt_key
from training.models import GenerationJob, Policy, TrainingMetric, TrainingRun, TrainingSample


def user_can_train(user) -> bool:
    """Training spends GPU hours: ML engineers and admins only."""
    return user_has_role(user, Roles.ML_ENGINEER) or user_has_role(user, Roles.ADMIN)


def training_run_list(*, kind: str | None = None, status: str | None = None) -> QuerySet:
    runs = TrainingRun.objects.select_related(
        "created_by", "snapshot", "reward_model", "prompt_project"
    ).defer("log_tail", "card", "resolved_config")
    if kind:
        runs = runs.filter(kind=kind)
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-id")


def training_run_get(pk: int) -> TrainingRun | None:
    return (
        TrainingRun.objects.select_related(
            "created_by", "snapshot", "reward_model", "prompt_project"
        )
        .filter(pk=pk)
        .first()
    )


def training_run_metric_points(run: TrainingRun, *, after: int = 0) -> QuerySet:
    """Progress reports in order; ``after`` (a point id) lets a poller fetch only new ones."""
    return TrainingMetric.objects.filter(run=run, id__gt=after).order_by("id")


def training_run_samples(run: TrainingRun) -> QuerySet:
    return TrainingSample.objects.filter(run=run).order_by("step", "id")


def training_run_samples_by_step(run: TrainingRun) -> list[tuple[int, list[dict]]]:
    """``[(step, [{"prompt", "samples", "mean_score"}, ...]), ...]``: a run that samples each
    evaluation prompt several times (``eval_samples_per_prompt``) shows the prompt once, with
    its responses side by side and their mean, which is the figure a before/after reading
    compares."""
    grouped: dict[int, dict[str, dict]] = {}
    for sample in training_run_samples(run):
        group = grouped.setdefault(sample.step, {}).setdefault(
            prompt_key(sample.prompt), {"prompt": sample.prompt, "samples": []}
        )
        group["samples"].append(sample)
    for groups in grouped.values():
        for group in groups.values():
            group["mean_score"] = sum(s.score for s in group["samples"]) / len(group["samples"])
    return [(step, list(groups.values())) for step, groups in sorted(grouped.items())]


def training_run_eval_change(samples_by_step: list[tuple[int, list[dict]]]) -> dict | None:
    """How each evaluation prompt's mean reward moved from step 0 to the latest evaluation:
    ``rlhf.utils.paired_change`` keyed by prompt, rows biggest gain first, plus ``end_step``.
    None before there are two evaluations."""
    if len(samples_by_step) < 2 or samples_by_step[0][0] != 0:
        return None
    (_, first), (end_step, last) = samples_by_step[0], samples_by_step[-1]

    def means(groups):
        return {prompt_key(g["prompt"]): g["mean_score"] for g in groups}

    change = paired_change(means(first), means(last))
    if change is None:
        return None
    prompts = {prompt_key(g["prompt"]): g["prompt"] for g in first}
    for row in change["rows"]:
        row["prompt"] = prompts[row["key"]]
    change["rows"].sort(key=lambda r: r["delta"], reverse=True)
    return {**change, "end_step": end_step}


def heartbeat_stale_after() -> timedelta:
    return timedelta(minutes=float(getattr(settings, "TRAINING_HEARTBEAT_STALE_MINUTES", 10)))


def training_runs_stale(*, now=None, stale_after: timedelta | None = None) -> QuerySet:
    """Running runs whose worker has not written for ``stale_after``: presumed dead."""
    cutoff = (now or timezone.now()) - (stale_after or heartbeat_stale_after())
    return TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def policy_list() -> QuerySet:
    return Policy.objects.select_related("training_run", "reward_model").order_by("-id")


def policy_get(pk: int) -> Policy | None:
    return Policy.objects.filter(pk=pk).first()


def generation_job_list() -> QuerySet:
    return GenerationJob.objects.select_related("project", "policy").order_by("-id")


def generation_job_get(pk: int) -> GenerationJob | None:
    return GenerationJob.objects.select_related("project", "policy").filter(pk=pk).first()

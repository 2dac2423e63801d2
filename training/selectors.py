"""Read-side queries of the training app."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from annotate.selectors import project_ids_for_member
from core.heartbeat import stale_after
from rewardmodel.selectors import reward_models_visible_q
from rlhf.utils import paired_change, prompt_key
from training.models import GenerationJob, Policy, TrainingMetric, TrainingRun, TrainingSample

# Who sees what: a run belongs to every project it reads (its snapshot's, its prompt project,
# its reward model's); a user sees it when a member of all of them, since its metrics, samples
# and config come from each. A policy follows the run that trained it, a generation job the
# project it writes to. Admins see everything. Metrics and samples are reached through a run.


def training_runs_visible_q(*, user, prefix: str = "") -> Q:
    mine = project_ids_for_member(user=user)
    if mine is None:
        return Q()
    p = prefix
    return (
        (Q(**{f"{p}snapshot__isnull": True}) | Q(**{f"{p}snapshot__project__in": mine}))
        & (Q(**{f"{p}prompt_project__isnull": True}) | Q(**{f"{p}prompt_project__in": mine}))
        & (
            Q(**{f"{p}reward_model__isnull": True})
            | reward_models_visible_q(user=user, prefix=f"{p}reward_model__")
        )
    )


def training_run_list(
    *, user, kind: str | None = None, status: str | None = None, project: str | None = None
) -> QuerySet:
    """The user's visible runs, newest first; ``project`` (a slug) keeps the runs that read it
    (through their snapshot or their prompt project)."""
    runs = (
        TrainingRun.objects.filter(training_runs_visible_q(user=user))
        .select_related("created_by", "snapshot", "reward_model", "prompt_project")
        .defer("log_tail", "card", "resolved_config")
    )
    if kind:
        runs = runs.filter(kind=kind)
    if status:
        runs = runs.filter(status=status)
    if project:
        runs = runs.filter(Q(snapshot__project__slug=project) | Q(prompt_project__slug=project))
    return runs.order_by("-id")


def training_run_get(*, user, pk: int) -> TrainingRun | None:
    return (
        TrainingRun.objects.filter(training_runs_visible_q(user=user))
        .select_related("created_by", "snapshot", "reward_model", "prompt_project")
        .filter(pk=pk)
        .first()
    )


def training_run_metric_points(*, run: TrainingRun, after: int = 0) -> QuerySet:
    """Progress reports in order; ``after`` (a point id) lets a poller fetch only new ones."""
    return TrainingMetric.objects.filter(run=run, id__gt=after).order_by("id")


def training_run_samples(*, run: TrainingRun) -> QuerySet:
    return TrainingSample.objects.filter(run=run).order_by("step", "id")


def training_run_samples_by_step(*, run: TrainingRun) -> list[tuple[int, list[dict]]]:
    """``[(step, [{"prompt", "samples", "mean_score"}, ...]), ...]``: a run that samples each
    evaluation prompt several times (``eval_samples_per_prompt``) shows the prompt once, with
    its responses side by side and their mean, which is the figure a before/after reading
    compares."""
    grouped: dict[int, dict[str, dict]] = {}
    for sample in training_run_samples(run=run):
        group = grouped.setdefault(sample.step, {}).setdefault(
            prompt_key(sample.prompt), {"prompt": sample.prompt, "samples": []}
        )
        group["samples"].append(sample)
    for groups in grouped.values():
        for group in groups.values():
            group["mean_score"] = sum(s.score for s in group["samples"]) / len(group["samples"])
    return [(step, list(groups.values())) for step, groups in sorted(grouped.items())]


def training_run_eval_change(*, samples_by_step: list[tuple[int, list[dict]]]) -> dict | None:
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
    return stale_after()


def training_runs_stale(*, now=None, stale_after: timedelta | None = None) -> QuerySet:
    """Running runs whose worker has not written for ``stale_after``: presumed dead."""
    cutoff = (now or timezone.now()) - (stale_after or heartbeat_stale_after())
    return TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def policies_visible_q(*, user) -> Q:
    if project_ids_for_member(user=user) is None:
        return Q()
    return (
        Q(training_run__isnull=True) | training_runs_visible_q(user=user, prefix="training_run__")
    ) & (Q(reward_model__isnull=True) | reward_models_visible_q(user=user, prefix="reward_model__"))


def policy_list(*, user) -> QuerySet:
    return (
        Policy.objects.filter(policies_visible_q(user=user))
        .select_related("training_run", "reward_model")
        .order_by("-id")
    )


def policy_get(*, user, pk: int) -> Policy | None:
    return policy_list(user=user).filter(pk=pk).first()


def generation_job_list(*, user) -> QuerySet:
    jobs = GenerationJob.objects.select_related("project", "policy")
    mine = project_ids_for_member(user=user)
    if mine is not None:
        jobs = jobs.filter(project__in=mine)
    return jobs.order_by("-id")


def generation_job_get(*, user, pk: int) -> GenerationJob | None:
    return generation_job_list(user=user).filter(pk=pk).first()


def run_form_context(*, user, project) -> dict:
    """What the "New run" form of ``project`` offers: its trainable snapshots (ready ones to
    pick, building ones to wait for) and the reward models the user may run PPO against."""
    from exports.models import DatasetSnapshot
    from rewardmodel.selectors import reward_model_list
    from training.services.runs import TRAINABLE_SNAPSHOT_FORMATS

    snapshots = DatasetSnapshot.objects.filter(
        project=project, format__in=TRAINABLE_SNAPSHOT_FORMATS
    ).order_by("-id")
    return {
        "snapshots": list(snapshots.filter(status=DatasetSnapshot.Status.READY)[:50]),
        "snapshots_building": list(
            snapshots.filter(
                status__in=[DatasetSnapshot.Status.PENDING, DatasetSnapshot.Status.RUNNING]
            )[:10]
        ),
        "reward_models": list(reward_model_list(user=user)[:50]),
    }

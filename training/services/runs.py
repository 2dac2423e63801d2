"""Starting, cancelling, resuming and reaping training runs (the web and beat side)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotate.selectors import project_list_for_user
from core.artifacts import run_artifact_relpath
from core.dispatch import task_enqueue
from core.heartbeat import max_attempts as task_max_attempts
from core.services import audit_event_record
from training.configs import PPO, REWARD_MODEL, base_model_check, config_validate
from training.models import TrainingRun
from training.selectors import heartbeat_stale_after, training_runs_stale
from webhooks.services import webhook_run_emit

TRAINABLE_SNAPSHOT_FORMATS = ("rankings", "pairwise")


class RunStateError(Exception):
    """The run is in a state that does not allow the request (HTTP 409)."""


def _enqueue(run: TrainingRun, *, require_broker: bool = True) -> None:
    """Send the run to the GPU queue once the surrounding transaction commits (a new task id:
    older messages for the run are skipped by the claim). Raises ``BrokerUnavailable`` when
    the broker is down and ``require_broker`` (the caller's transaction then rolls back)."""
    from training import tasks

    run.celery_task_id = str(uuid.uuid4())
    run.save(update_fields=["celery_task_id"])
    task_enqueue(
        task=tasks.training_run_execute, args=[run.pk], task_id=run.celery_task_id,
        require_broker=require_broker,
    )  # fmt: skip


def _snapshot_for(user, snapshot_id, field: str):
    from exports.models import DatasetSnapshot

    snapshot = (
        DatasetSnapshot.objects.filter(pk=snapshot_id, project__in=project_list_for_user(user=user))
        .select_related("project")
        .first()
    )
    if snapshot is None:
        raise ValidationError({field: [f"no snapshot {snapshot_id} in your projects"]})
    if snapshot.status != DatasetSnapshot.Status.READY:
        raise ValidationError({field: [f"snapshot {snapshot.pk} is {snapshot.status}, not ready"]})
    if snapshot.format not in TRAINABLE_SNAPSHOT_FORMATS:
        raise ValidationError(
            {field: [f"snapshot format {snapshot.format!r} cannot be trained on; "
                     f"export {' or '.join(TRAINABLE_SNAPSHOT_FORMATS)}"]}
        )  # fmt: skip
    return snapshot


@transaction.atomic
def training_run_start(
    *,
    user,
    kind: str,
    base_model: str,
    config: dict | None = None,
    name: str = "",
    snapshot_id: int | None = None,
    reward_model_id: int | None = None,
    prompt_project_id: int | None = None,
) -> TrainingRun:
    """Validate everything a worker would trip on, create the run and queue it.

    A reward-model run trains on ``snapshot_id``; a PPO run optimises ``base_model`` (the SFT
    policy) against registered reward model ``reward_model_id`` on the prompts of
    ``prompt_project_id`` or of ``snapshot_id``.
    """
    from rewardmodel.selectors import reward_model_get

    config = {} if config is None else config
    if kind not in (REWARD_MODEL, PPO):
        raise ValidationError({"kind": [f"must be {REWARD_MODEL!r} or {PPO!r}"]})
    base_model_check(base_model)
    config_validate(kind, config)

    snapshot = reward_model = prompt_project = None
    if kind == REWARD_MODEL:
        if snapshot_id is None:
            raise ValidationError({"snapshot": ["a reward-model run needs a snapshot"]})
        for key, value in (
            ("reward_model", reward_model_id),
            ("prompt_project", prompt_project_id),
        ):
            if value is not None:
                raise ValidationError({key: ["only PPO runs take this"]})
        snapshot = _snapshot_for(user, snapshot_id, "snapshot")
    else:
        if reward_model_id is None:
            raise ValidationError({"reward_model": ["a PPO run needs a registered reward model"]})
        reward_model = reward_model_get(user=user, pk=reward_model_id)
        if reward_model is None:
            raise ValidationError(
                {"reward_model": [f"no reward model {reward_model_id} in your projects"]}
            )
        if (prompt_project_id is None) == (snapshot_id is None):
            raise ValidationError(
                {"prompt_project": ["give exactly one prompt set: prompt_project or snapshot"]}
            )
        if prompt_project_id is not None:
            prompt_project = project_list_for_user(user=user).filter(pk=prompt_project_id).first()
            if prompt_project is None:
                raise ValidationError(
                    {"prompt_project": [f"no project {prompt_project_id} among yours"]}
                )
            if not prompt_project.prompts.exists():
                raise ValidationError({"prompt_project": ["the project has no prompts"]})
        else:
            snapshot = _snapshot_for(user, snapshot_id, "snapshot")

    run = TrainingRun.objects.create(
        kind=kind,
        name=name,
        created_by=user,
        snapshot=snapshot,
        reward_model=reward_model,
        prompt_project=prompt_project,
        base_model=base_model,
        config=config,
    )
    run.artifact_path = run_artifact_relpath(run.pk)
    run.save(update_fields=["artifact_path"])
    audit_event_record(
        action="training_run.start", obj=run, project=run_project(run=run), actor=user,
        after={"kind": kind, "name": name, "base_model": base_model, "config": config,
               "snapshot": snapshot_id, "reward_model": reward_model_id,
               "prompt_project": prompt_project_id},
    )  # fmt: skip
    _enqueue(run)
    return run


def run_project(*, run: TrainingRun):
    """The project a run's data comes from (its snapshot's, or its PPO prompt project)."""
    return run.snapshot.project if run.snapshot_id else run.prompt_project


def _audit_state_change(action: str, *, run: TrainingRun, before: dict, user) -> None:
    after = {k: getattr(run, k) for k in before}
    audit_event_record(action=action, obj=run, project=run_project(run=run), actor=user,
                       before=before, after=after)  # fmt: skip


@transaction.atomic
def training_run_cancel(*, run: TrainingRun, user=None) -> TrainingRun:
    """A queued run is cancelled at once; a running one is flagged and its worker stops
    before its next step (the flag is all the worker reads)."""
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    before = {"status": run.status, "cancel_requested": run.cancel_requested}
    if run.status == TrainingRun.Status.QUEUED:
        run.status = TrainingRun.Status.CANCELLED
        run.cancel_requested = True
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "cancel_requested", "finished_at"])
        webhook_run_emit(run=run)
    elif run.status == TrainingRun.Status.RUNNING:
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
    else:
        raise RunStateError(f"run {run.pk} is already {run.status}")
    _audit_state_change("training_run.cancel", run=run, before=before, user=user)
    return run


@transaction.atomic
def training_run_resume(*, run: TrainingRun, user=None) -> TrainingRun:
    """Queue a failed or cancelled run again; the worker continues from its last checkpoint."""
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.status not in (TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED):
        raise RunStateError(f"only failed or cancelled runs resume; run {run.pk} is {run.status}")
    if not run.last_checkpoint:
        raise RunStateError(f"run {run.pk} has no checkpoint to resume from")
    before = {"status": run.status, "last_checkpoint": run.last_checkpoint}
    run.status = TrainingRun.Status.QUEUED
    run.cancel_requested = False
    run.error = ""
    run.finished_at = None
    run.eta_seconds = None
    run.save(update_fields=["status", "cancel_requested", "error", "finished_at", "eta_seconds"])
    _audit_state_change("training_run.resume", run=run, before=before, user=user)
    _enqueue(run)
    return run


def training_runs_reap_stale(
    *, now=None, stale_after: timedelta | None = None, max_attempts: int | None = None
) -> dict[str, list[int]]:
    """Runs whose worker stopped writing are never left "running".

    One with a checkpoint and attempts to spare goes back on the queue (its next worker
    resumes from the checkpoint); any other is marked failed, with the reason.
    """
    now = now or timezone.now()
    stale_after = stale_after or heartbeat_stale_after()
    max_attempts = task_max_attempts() if max_attempts is None else max_attempts
    requeued: list[int] = []
    failed: list[int] = []
    stale = training_runs_stale(now=now, stale_after=stale_after).order_by("id")
    for run_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            # Re-check under the lock: the worker may have written since the query.
            run = (
                training_runs_stale(now=now, stale_after=stale_after)
                .select_for_update(skip_locked=True)
                .filter(pk=run_id)
                .first()
            )
            if run is None:
                continue
            since = run.heartbeat_at or run.started_at
            note = f"no heartbeat since {since:%Y-%m-%d %H:%M:%S} UTC: worker presumed lost"
            run.log_tail = f"{run.log_tail}\n[reaper] {note}".strip()
            if run.last_checkpoint and run.attempts < max_attempts:
                run.status = TrainingRun.Status.QUEUED
                run.log_tail += f"; re-queued to resume from {run.last_checkpoint}"
                run.save(update_fields=["status", "log_tail"])
                _enqueue(run, require_broker=False)
                requeued.append(run.pk)
            else:
                run.status = TrainingRun.Status.FAILED
                run.error = note + (
                    f" after {run.attempts} attempts" if run.last_checkpoint else ""
                )
                run.finished_at = now
                run.save(update_fields=["status", "error", "log_tail", "finished_at"])
                webhook_run_emit(run=run)
                failed.append(run.pk)
    return {"requeued": requeued, "failed": failed}

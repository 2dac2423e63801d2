"""Periodic retraining: every N new human judgements, a new snapshot, a reward-model run on it
through the training services, and a rescoring of the queue with the model it registers.

One beat task (``loop.tasks.retrain_check_task``) walks the projects with ``retrain_every``
set and moves each one step along::

    idle --(N new judgements)--> snapshot building --(ready)--> run queued/running
         <--(run failed: stays on the old model)----------------------'
         <--(run succeeded: its registered model orders the queue; rescored)

Every step is one short transaction on the settings row, locked, so two beat ticks never start
two runs. The run is started on behalf of ``retrain_by`` (the admin who set the schedule), so
its permissions and audit trail are a person's.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from annotate.models import Project
from core import db
from core.errors import ServiceError
from core.services import audit_event_record
from exports.models import DatasetSnapshot
from exports.services import snapshot_create
from loop.models import LoopSettings
from loop.selectors import human_judgement_count
from loop.services.scoring import prompts_pending_ids
from loop.services.settings import prompts_score_enqueue
from training.models import TrainingRun
from training.services.runs import training_run_start

logger = logging.getLogger(__name__)

SNAPSHOT_FORMAT = "rankings"


def _base_model_and_config(settings: LoopSettings) -> tuple[str, dict]:
    """``retrain_config`` {"base_model", "config"}, else what trained the current model."""
    wanted = settings.retrain_config or {}
    current = settings.reward_model
    run = current.training_run if current is not None else None
    base = wanted.get("base_model") or (run.base_model if run else "") or (
        current.base_model if current else "")  # fmt: skip
    config = wanted.get("config", run.config if run else {})
    return base, dict(config or {})


def _finish(settings: LoopSettings, run: TrainingRun) -> str:
    project = settings.project
    model = getattr(run, "registered_reward_model", None)
    settings.retrain_run = None
    if run.status != TrainingRun.Status.SUCCEEDED or model is None:
        settings.save(update_fields=["retrain_run", "updated_at"])
        return f"run {run.pk} {run.status}: the queue keeps its model"
    before = settings.reward_model_id
    settings.reward_model = model
    settings.save(update_fields=["retrain_run", "reward_model", "updated_at"])
    audit_event_record(action="project.loop_retrained", obj=project, project=project,
                       source="worker", before={"reward_model": before},
                       after={"reward_model": model.pk, "training_run": run.pk})  # fmt: skip
    if project.priority == Project.Priority.UNCERTAINTY:
        prompts_score_enqueue(project=project, prompt_ids=prompts_pending_ids(project=project),
                              require_broker=False)  # fmt: skip
    return f"model {model.pk} registered by run {run.pk}: rescoring"


def _start_run(settings: LoopSettings, snapshot: DatasetSnapshot) -> str:
    settings.retrain_snapshot = None
    if snapshot.status != DatasetSnapshot.Status.READY:
        settings.save(update_fields=["retrain_snapshot", "updated_at"])
        return f"snapshot {snapshot.pk} {snapshot.status}: no run"
    base, config = _base_model_and_config(settings)
    try:
        run = training_run_start(
            user=settings.retrain_by, kind=TrainingRun.Kind.REWARD_MODEL, base_model=base,
            config=config, name=f"{settings.project.slug}-retrain-{snapshot.pk}",
            snapshot_id=snapshot.pk,
        )  # fmt: skip
    except (ValidationError, ServiceError) as exc:
        settings.save(update_fields=["retrain_snapshot", "updated_at"])
        logger.warning("retraining %s: run refused: %s", settings.project.slug, exc)
        return f"run refused: {exc}"
    settings.retrain_run = run
    settings.save(update_fields=["retrain_snapshot", "retrain_run", "updated_at"])
    return f"run {run.pk} started on snapshot {snapshot.pk}"


def _maybe_snapshot(settings: LoopSettings) -> str:
    judgements = human_judgement_count(project=settings.project)
    if judgements - settings.retrain_judgements_at < settings.retrain_every:
        return "not due"
    snapshot = snapshot_create(project=settings.project, fmt=SNAPSHOT_FORMAT,
                               user=settings.retrain_by)  # fmt: skip
    settings.retrain_snapshot = snapshot
    settings.retrain_judgements_at = judgements
    settings.save(update_fields=["retrain_snapshot", "retrain_judgements_at", "updated_at"])
    return f"snapshot {snapshot.pk} at {judgements} judgements"


@transaction.atomic
def project_retrain_step(*, settings_id: int) -> str:
    """Move one project's retraining one step along; returns what it did (for the log)."""
    settings = db.row_lock(
        LoopSettings.objects.select_related(
            "project", "reward_model", "retrain_run", "retrain_snapshot"
        ).filter(pk=settings_id, retrain_every__isnull=False)
    )
    if settings is None:
        return "off"
    run = settings.retrain_run
    if run is not None:
        if run.status in TrainingRun.ACTIVE_STATUSES:
            return f"run {run.pk} {run.status}"
        return _finish(settings, run)
    snapshot = settings.retrain_snapshot
    if snapshot is not None:
        if snapshot.status in (DatasetSnapshot.Status.PENDING, DatasetSnapshot.Status.RUNNING):
            return f"snapshot {snapshot.pk} {snapshot.status}"
        return _start_run(settings, snapshot)
    return _maybe_snapshot(settings)


def retrain_check() -> dict[str, str]:
    """One beat tick over every project with a retraining schedule."""
    done = {}
    for pk, slug in LoopSettings.objects.filter(retrain_every__isnull=False).values_list(
        "pk", "project__slug"
    ):
        done[slug] = project_retrain_step(settings_id=pk)
    return done

"""Write-side of the reward-model registry, and scoring."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.services import audit_event_record
from rewardmodel.models import RewardModel
from rewardmodel.scorers import scorer_get
from webhooks.services import webhook_model_emit

MAX_SCORED_PAIRS = 512


def registry_name_free(model, name: str, suffix: str) -> str:
    """``name``, or ``name-<suffix>`` when a row of ``model`` already has it."""
    return name if not model.objects.filter(name=name).exists() else f"{name}-{suffix}"


@transaction.atomic
def reward_model_register_from_run(*, run, card: dict[str, Any], result: dict[str, Any]):
    """The registry row for a reward-model run that just succeeded."""
    name = registry_name_free(RewardModel, run.name or f"rm-run-{run.pk}", f"run{run.pk}")
    model = RewardModel.objects.create(
        name=name,
        path=run.artifact_path,
        base_model=run.base_model,
        snapshot=run.snapshot,
        training_run=run,
        reward_offset=result.get("reward_offset"),
        metrics=result.get("metrics") or {},
        card=card,
        created_by=run.created_by,
    )
    model_registered_audit(action="reward_model.register", model=model, run=run)
    return model


def model_registered_audit(*, action: str, model, run=None, actor=None, project=None) -> None:
    """Record a registration: by the worker for a run (on behalf of the run's creator), or by
    an admin for a model trained elsewhere."""
    if run is not None:
        project = run.snapshot.project if run.snapshot_id else run.prompt_project
        actor = run.created_by
    audit_event_record(
        action=action, obj=model, project=project, actor=actor,
        source="worker" if run is not None else None,
        after={"name": model.name, "path": model.path, "base_model": model.base_model,
               "training_run": run.pk if run is not None else None, "metrics": model.metrics},
    )  # fmt: skip


@transaction.atomic
def reward_model_register(*, model: RewardModel, actor) -> RewardModel:
    """Register a reward model trained elsewhere (the admin's add form fills ``model``)."""
    if model.created_by_id is None and actor is not None and actor.is_authenticated:
        model.created_by = actor
    model.save()
    project = model.snapshot.project if model.snapshot_id else None
    model_registered_audit(action="reward_model.register", model=model, actor=actor,
                           project=project)  # fmt: skip
    webhook_model_emit(model, kind="reward_model", project=project)
    return model


def reward_model_score(*, reward_model: RewardModel, items: list[dict]) -> list[list[float]]:
    """Rewards for each item's completions: ``items = [{"prompt", "completions"}]``.

    ``prompt`` is text or a list of {role, content} messages, as the reward model was trained.
    Raises ScoringUnavailable where torch is missing.
    """
    pairs = sum(len(item["completions"]) for item in items)
    if pairs > MAX_SCORED_PAIRS:
        raise ValidationError(
            {"items": [f"{pairs} completions in one request; at most {MAX_SCORED_PAIRS}"]}
        )
    path = str(reward_model.resolved_path)
    if not (reward_model.resolved_path / "config.json").is_file():
        raise ValidationError({"reward_model": [f"no model files at {path}"]})
    scorer = scorer_get(path)
    prompts = [item["prompt"] for item in items for _ in item["completions"]]
    completions = [c for item in items for c in item["completions"]]
    flat = scorer.score(prompts, completions)
    out, at = [], 0
    for item in items:
        n = len(item["completions"])
        out.append(flat[at : at + n])
        at += n
    return out

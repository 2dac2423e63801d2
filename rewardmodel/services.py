"""Write-side of the registry of trained models (both kinds), and scoring reward models."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.services import audit_event_record
from rewardmodel.models import RewardModel, TrainedModel
from rewardmodel.scorers import scorer_get
from webhooks.services import webhook_model_emit

MAX_SCORED_PAIRS = 512


def registry_name_free(*, model, name: str, suffix: str) -> str:
    """``name``, or ``name-<suffix>`` when a row of ``model`` already has it."""
    return name if not model.objects.filter(name=name).exists() else f"{name}-{suffix}"


# The name a run's model gets when the run has none: rm-run-7, ppo-run-8.
_RUN_NAME_PREFIX = {TrainedModel.Kind.REWARD_MODEL: "rm-run", TrainedModel.Kind.POLICY: "ppo-run"}


@transaction.atomic
def trained_model_register_from_run(
    *, model_class: type[TrainedModel], run, card: dict[str, Any], **fields: Any
) -> TrainedModel:
    """The registry row for a run that just succeeded: ``model_class`` is the kind
    (``RewardModel`` or ``training.Policy``), ``fields`` what only that kind has."""
    default = f"{_RUN_NAME_PREFIX[model_class.KIND]}-{run.pk}"
    model = model_class.objects.create(
        name=registry_name_free(model=model_class, name=run.name or default, suffix=f"run{run.pk}"),
        path=run.artifact_path,
        base_model=run.base_model,
        training_run=run,
        card=card,
        created_by=run.created_by,
        **fields,
    )
    model_registered_audit(model=model, run=run)
    return model


def model_registered_audit(*, model: TrainedModel, run=None, actor=None, project=None) -> None:
    """Record a registration: by the worker for a run (on behalf of the run's creator), or by
    an admin for a model trained elsewhere."""
    if run is not None:
        project = run.snapshot.project if run.snapshot_id else run.prompt_project
        actor = run.created_by
    audit_event_record(
        action=f"{model.KIND}.register", obj=model, project=project, actor=actor,
        source="worker" if run is not None else None,
        after={"name": model.name, "path": model.path, "base_model": model.base_model,
               "training_run": run.pk if run is not None else None, "metrics": model.metrics},
    )  # fmt: skip


@transaction.atomic
def trained_model_register(*, model: TrainedModel, actor) -> TrainedModel:
    """Register a model trained elsewhere, of either kind (the admin's add form fills it)."""
    if model.created_by_id is None and actor is not None and actor.is_authenticated:
        model.created_by = actor
    model.save()
    project = model.project_of()
    model_registered_audit(model=model, actor=actor, project=project)
    # Only reward models registered by hand announce themselves, as before the two kinds
    # shared this service (a policy added in the admin sent no webhook).
    if model.KIND == TrainedModel.Kind.REWARD_MODEL:
        webhook_model_emit(model=model, kind=model.KIND, project=project)
    return model


def _scorer_and_pairs(*, reward_model: RewardModel, items: list[dict]):
    """The model's scorer and the items flattened to one (prompt, completion) pair per
    completion, in item order; 400 naming ``reward_model`` where its files are missing."""
    path = str(reward_model.resolved_path)
    if not (reward_model.resolved_path / "config.json").is_file():
        raise ValidationError({"reward_model": [f"no model files at {path}"]})
    scorer = scorer_get(path)
    prompts = [item["prompt"] for item in items for _ in item["completions"]]
    completions = [c for item in items for c in item["completions"]]
    return scorer, prompts, completions


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
    scorer, prompts, completions = _scorer_and_pairs(reward_model=reward_model, items=items)
    flat = scorer.score(prompts, completions)
    out, at = [], 0
    for item in items:
        n = len(item["completions"])
        out.append(flat[at : at + n])
        at += n
    return out


def reward_model_score_members(*, reward_model: RewardModel, items: list[dict]) -> list:
    """Per item (``{"prompt", "completions"}``), the ``(E, n)`` score matrix of its ``n``
    completions: one row per ensemble member of the overall head; a model without an ensemble is
    E = 1. ``RewardScorer.score_matrix`` (rlhf.scoring) gives the members; a scorer without it
    is one member."""
    import numpy as np

    scorer, prompts, completions = _scorer_and_pairs(reward_model=reward_model, items=items)
    members = getattr(scorer, "score_matrix", None)
    scores = members(prompts, completions) if members else [scorer.score(prompts, completions)]
    flat = np.atleast_2d(np.asarray(scores, dtype=float))
    out, at = [], 0
    for item in items:
        out.append(flat[:, at : at + len(item["completions"])])
        at += len(item["completions"])
    return out

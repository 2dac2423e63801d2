"""Write-side of the reward-model registry, and scoring."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from rewardmodel.models import RewardModel
from rewardmodel.scorers import scorer_get

MAX_SCORED_PAIRS = 512


def registry_name_free(model, name: str, suffix: str) -> str:
    """``name``, or ``name-<suffix>`` when a row of ``model`` already has it."""
    return name if not model.objects.filter(name=name).exists() else f"{name}-{suffix}"


def reward_model_register_from_run(*, run, card: dict[str, Any], result: dict[str, Any]):
    """The registry row for a reward-model run that just succeeded."""
    name = registry_name_free(RewardModel, run.name or f"rm-run-{run.pk}", f"run{run.pk}")
    return RewardModel.objects.create(
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

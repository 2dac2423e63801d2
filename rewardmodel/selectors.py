"""Read-side queries of the reward-model registry."""

from __future__ import annotations

from django.db.models import QuerySet

from rewardmodel.models import RewardModel


def reward_model_list() -> QuerySet:
    return RewardModel.objects.select_related("snapshot", "training_run").order_by("-id")


def reward_model_get(pk: int) -> RewardModel | None:
    return RewardModel.objects.select_related("snapshot", "training_run").filter(pk=pk).first()

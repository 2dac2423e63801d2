"""Read-side queries of the reward-model registry.

A reward model belongs to the project of the snapshot it was trained on: members of that
project see it (admins see all). One registered by hand without a snapshot (a model trained
elsewhere) belongs to no project and is shared with every ML engineer.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from annotate.selectors import project_ids_for_member
from rewardmodel.models import RewardModel


def reward_models_visible_q(*, user, prefix: str = "") -> Q:
    """``Q`` for the reward models ``user`` may see; ``prefix`` reaches one through a relation
    (``"reward_model__"``)."""
    mine = project_ids_for_member(user=user)
    if mine is None:
        return Q()
    return Q(**{f"{prefix}snapshot__isnull": True}) | Q(**{f"{prefix}snapshot__project__in": mine})


def reward_model_list(*, user) -> QuerySet:
    return (
        RewardModel.objects.filter(reward_models_visible_q(user=user))
        .select_related("snapshot", "training_run")
        .order_by("-id")
    )


def reward_model_get(*, user, pk: int) -> RewardModel | None:
    return reward_model_list(user=user).filter(pk=pk).first()

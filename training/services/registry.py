"""Registering a policy trained elsewhere (runs register theirs in execution.py)."""

from __future__ import annotations

from django.db import transaction

from rewardmodel.services import model_registered_audit
from training.models import Policy


@transaction.atomic
def policy_register(*, policy: Policy, actor) -> Policy:
    """Register a policy (the admin's add form fills ``policy``) and record it."""
    if policy.created_by_id is None and actor is not None and actor.is_authenticated:
        policy.created_by = actor
    policy.save()
    model_registered_audit(action="policy.register", model=policy, actor=actor)
    return policy

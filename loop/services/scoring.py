"""Storing each pending prompt's queue priority, and the K completions it shows.

* ``random``: a stored random key per prompt (reproducible order, an index scan like any other).
* ``uncertainty``: the project's registered reward model scores every completion as an
  ``(E, n)`` matrix (E ensemble members; E = 1 for a single-head model) and the prompt's
  priority is ``rlhf.uncertainty.prompt_priority`` under the project's rule, summed over the
  pairs of the completions it will show. With E = 1, ``spread`` and ``bald`` are 0 for every
  pair (one member cannot disagree with itself), so a single-head model always uses ``margin``
  (mean P(better) nearest a coin flip) whatever rule is set; the lineage records the rule used.
* K-selection: when a prompt has more completions than ``Project.shown_k``, the K shown are
  ``rlhf.uncertainty.select_completions`` under the same rule (greedy: the most uncertain pair,
  then the candidate adding the most pair uncertainty to those chosen); in ``random`` mode a
  random K. Once anyone judged or claimed a prompt its shown completions never change, so all
  its judgements rank the same set.

The lineage (model id and name, rule, members, time) is stored on the prompt and copied onto
each judgement at submit (``Annotation.lineage``), so the export says which model version
chose each task.
"""

from __future__ import annotations

import random

import numpy as np
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotate.models import Annotation, Claim, Project, Prompt
from core.errors import ServiceError
from loop.models import LoopSettings
from rewardmodel.services import reward_model_score_members
from rlhf.uncertainty import prompt_priority, select_completions

# Prompts per task message, and per scoring batch inside one.
TASK_CHUNK = 500
SCORE_BATCH = 32


class LoopRefused(ServiceError):
    code = "loop_refused"


def loop_settings_for(*, project: Project) -> LoopSettings:
    settings, _ = LoopSettings.objects.get_or_create(project=project)
    return settings


def prompts_pending_ids(*, project: Project, unscored_only: bool = False) -> list[int]:
    """Prompts humans still need (below their overlap target), gold excluded: gold prompts are
    served at the project's gold rate, not by priority."""
    prompts = Prompt.objects.filter(project=project, is_gold=False, submitted_count__lt=Coalesce(
        "target_overlap", Value(project.overlap)))  # fmt: skip
    if unscored_only:
        prompts = prompts.filter(priority_lineage__isnull=True)
    return list(prompts.order_by("pk").values_list("pk", flat=True))


def effective_rule(*, rule: str, members: int) -> str:
    """Disagreement rules need two members; one member degrades to the margin rule."""
    return rule if members > 1 else "margin"


def _frozen_ids(prompt_ids: list[int]) -> set[int]:
    """Prompts already judged or claimed: their shown completions stay as they are."""
    touched = Prompt.objects.filter(pk__in=prompt_ids).filter(
        Exists(Annotation.objects.filter(prompt=OuterRef("pk")))
        | Exists(Claim.objects.filter(prompt=OuterRef("pk")))
    )
    return set(touched.values_list("pk", flat=True))


def _completion_ids(prompt: Prompt) -> list[str]:
    return [c.external_id for c in sorted(prompt.completions.all(), key=lambda c: c.position)]


def _random_store(prompts: list[Prompt], k: int | None, frozen: set[int]) -> None:
    rng = random.SystemRandom()
    for prompt in prompts:
        prompt.priority = rng.random()
        prompt.priority_lineage = {"rule": "random", "scored_at": timezone.now().isoformat()}
        ids = _completion_ids(prompt)
        if prompt.pk not in frozen:
            prompt.shown_ids = sorted(rng.sample(ids, k)) if k and len(ids) > k else None


def _uncertainty_store(prompts: list[Prompt], settings: LoopSettings, k, frozen) -> None:
    model = settings.reward_model
    for start in range(0, len(prompts), SCORE_BATCH):
        batch = prompts[start : start + SCORE_BATCH]
        items = []
        for prompt in batch:
            completions = sorted(prompt.completions.all(), key=lambda c: c.position)
            prompt_input = prompt.messages if prompt.messages is not None else prompt.text
            items.append({"prompt": prompt_input, "completions": [c.text for c in completions]})
        matrices = reward_model_score_members(reward_model=model, items=items)
        for prompt, scores in zip(batch, matrices, strict=True):
            ids = _completion_ids(prompt)
            rule = effective_rule(rule=settings.rule, members=scores.shape[0])
            if prompt.pk in frozen:
                shown = prompt.shown_ids or ids
            elif k and len(ids) > k:
                shown = [ids[i] for i in select_completions(scores, k, rule)]
            else:
                shown = ids
            cols = [ids.index(cid) for cid in shown if cid in ids]
            prompt.shown_ids = shown if len(shown) < len(ids) else None
            sub = scores[:, cols]
            prompt.priority = float(prompt_priority(sub, np.zeros(sub.shape[1]), 1, rule)[0])
            prompt.priority_lineage = {
                "model": model.pk, "name": model.name, "rule": rule, "members": scores.shape[0],
                "scored_at": timezone.now().isoformat(),
            }  # fmt: skip


def prompt_priorities_store(*, project: Project, prompt_ids: list[int]) -> int:
    """Score ``prompt_ids`` (of ``project``) under its priority setting and store the result;
    returns how many were stored. Prompts of another project are ignored."""
    prompts = list(
        Prompt.objects.filter(project=project, pk__in=prompt_ids)
        .prefetch_related("completions")
        .order_by("pk")
    )
    if not prompts:
        return 0
    settings = loop_settings_for(project=project)
    frozen = _frozen_ids([p.pk for p in prompts])
    if project.priority == Project.Priority.RANDOM:
        _random_store(prompts, project.shown_k, frozen)
    elif project.priority == Project.Priority.UNCERTAINTY:
        if settings.reward_model is None:
            raise LoopRefused("uncertainty needs a registered reward model", field="reward_model")
        _uncertainty_store(prompts, settings, project.shown_k, frozen)
    else:
        for prompt in prompts:
            prompt.priority, prompt.priority_lineage = 0.0, None
    Prompt.objects.bulk_update(
        prompts, ["priority", "priority_lineage", "shown_ids"], batch_size=TASK_CHUNK
    )
    LoopSettings.objects.filter(pk=settings.pk).update(scored_at=timezone.now())
    return len(prompts)

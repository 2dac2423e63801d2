"""Reviewers' decisions: an adjudicated ranking overrides the computed consensus."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from agreement.models import Adjudication, PromptConsensus
from agreement.selectors import user_can_review
from annotate.judgements import JudgementError, JudgementRules, clean_choice
from annotate.models import Prompt
from annotate.services.queue import prompt_completion_ids
from core.services import audit_event_record


@transaction.atomic
def prompt_adjudicate(
    *,
    prompt: Prompt,
    reviewer,
    ranking: Any,
    comment: str = "",
    strength: Any = None,
    tie_kind: Any = "",
    gaps: Any = None,
    dimensions: Any = None,
) -> Adjudication:
    """Record a reviewer's ranking of a prompt; it overrides the computed consensus.

    Every completion must be placed (it becomes the label); ties follow the project's rule.
    A pairwise-strength project's adjudication says how much better (``strength``) or which
    tie (``tie_kind``), checked as an annotator's judgement is; ``dimensions`` holds the
    dimensions the reviewer decided, any of the project's (none is fine). Raises
    PermissionDenied for non-reviewers and ``annotate.judgements.JudgementError`` (naming the
    field) for bad input.
    """
    project = prompt.project
    if not user_can_review(user=reviewer, project=project):
        raise PermissionDenied("only reviewers and admins adjudicate")
    completion_ids = prompt_completion_ids(prompt=prompt)
    rules = replace(JudgementRules.for_project(project), require_all_placed=True)
    data = {"ranking": ranking, "strength": strength, "tie_kind": tie_kind, "gaps": gaps}
    cleaned = clean_choice(data, completion_ids, rules)
    decided = _dimensions_clean(dimensions, completion_ids, rules)
    current = PromptConsensus.objects.filter(prompt=prompt).first()
    adjudication = Adjudication.objects.create(
        prompt=prompt,
        reviewer=reviewer,
        ranking=cleaned["ranking"],
        comment=comment.strip(),
        strength=cleaned["strength"],
        tie_kind=cleaned["tie_kind"],
        gaps=cleaned["gaps"],
        dimensions=decided,
        consensus_ranking=current.ranking if current else None,
        consensus_agreement=current.agreement if current else None,
    )
    audit_event_record(
        action="adjudication.create", obj=adjudication, project=project, actor=reviewer,
        object_repr=f"prompt {prompt.external_id}",
        before={"consensus_ranking": adjudication.consensus_ranking,
                "consensus_agreement": adjudication.consensus_agreement},
        after={"prompt": prompt.external_id, **_set({**cleaned, "dimensions": decided}),
               "comment": adjudication.comment},
    )  # fmt: skip
    return adjudication


def _set(values: dict) -> dict:
    """The ranking and whichever extras are set: a plain project's event reads as before."""
    return {k: v for k, v in values.items() if v not in (None, "", [], {})}


def _dimensions_clean(value: Any, ids: list[str], rules: JudgementRules) -> dict[str, dict]:
    """The dimensions a reviewer decided: any subset of the project's, each a full choice."""
    if value in (None, {}):
        return {}
    if not rules.dimension_keys:
        raise JudgementError("dimensions", "this project has no dimensions")
    if not isinstance(value, dict):
        raise JudgementError("dimensions", "must be an object {dimension key: choice}")
    unknown = sorted(set(value) - set(rules.dimension_keys))
    if unknown:
        raise JudgementError(f"dimensions.{unknown[0]}", "is not a dimension of this project")
    return {
        key: clean_choice(value[key], ids, rules, f"dimensions.{key}.")
        for key in rules.dimension_keys
        if key in value
    }

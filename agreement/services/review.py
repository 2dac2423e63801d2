"""Reviewers' decisions: an adjudicated ranking overrides the computed consensus."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from agreement.models import Adjudication, PromptConsensus
from agreement.selectors import user_can_review
from annotate.judgements import JudgementRules, clean_ranking
from annotate.models import Prompt
from annotate.services.queue import prompt_completion_ids
from core.services import audit_event_record


@transaction.atomic
def prompt_adjudicate(*, prompt: Prompt, reviewer, ranking: Any, comment: str = "") -> Adjudication:
    """Record a reviewer's ranking of a prompt; it overrides the computed consensus.

    Every completion must be placed (it becomes the label); ties follow the project's rule.
    Raises PermissionDenied for non-reviewers and ``annotate.judgements.JudgementError`` for a
    bad ranking.
    """
    project = prompt.project
    if not user_can_review(user=reviewer, project=project):
        raise PermissionDenied("only reviewers and admins adjudicate")
    completion_ids = prompt_completion_ids(prompt=prompt)
    rules = replace(JudgementRules.for_project(project), require_all_placed=True)
    cleaned = clean_ranking(ranking, completion_ids, rules)
    current = PromptConsensus.objects.filter(prompt=prompt).first()
    adjudication = Adjudication.objects.create(
        prompt=prompt,
        reviewer=reviewer,
        ranking=cleaned,
        comment=comment.strip(),
        consensus_ranking=current.ranking if current else None,
        consensus_agreement=current.agreement if current else None,
    )
    audit_event_record(
        action="adjudication.create", obj=adjudication, project=project, actor=reviewer,
        object_repr=f"prompt {prompt.external_id}",
        before={"consensus_ranking": adjudication.consensus_ranking,
                "consensus_agreement": adjudication.consensus_agreement},
        after={"prompt": prompt.external_id, "ranking": cleaned, "comment": adjudication.comment},
    )  # fmt: skip
    return adjudication

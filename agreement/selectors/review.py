"""Who may review, the review queue and one prompt's review sheet."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from agreement.models import PromptConsensus
from annotate.letters import (
    judgement_in_letters,
    judging_shown,
    letters_seen,
    mapping_text,
    ranking_in_letters,
)
from annotate.models import Project, Prompt
from annotate.rendering import stored_messages_html, stored_text_html
from annotate.selectors import user_has_role
from core.roles import Roles


def user_can_review(*, user, project: Project) -> bool:
    """Admins everywhere; reviewers in the projects they are members of."""
    if not user.is_authenticated:
        return False
    if user.is_superuser or user_has_role(user=user, role=Roles.ADMIN):
        return True
    return (
        user_has_role(user=user, role=Roles.REVIEWER)
        and project.memberships.filter(user_id=user.pk).exists()
    )


def review_queue_qs(*, project: Project) -> QuerySet[PromptConsensus]:
    """Prompts below the project's agreement threshold or whose consensus missed the gold
    ranking, not yet adjudicated; lowest agreement first."""
    low = Q(agreement__lt=project.agreement_threshold) | Q(gold_missed=True)
    return (
        PromptConsensus.objects.filter(low, project=project)
        .exclude(prompt__adjudications__isnull=False)
        .select_related("prompt")
        .order_by("-gold_missed", "agreement", "prompt_id")
    )


def review_queue_list(*, project: Project, limit: int = 200) -> list[dict[str, Any]]:
    """Queue entries; ``ready`` once no more annotators are coming (adaptive overlap done)."""
    ceiling = project.overlap_ceiling
    entries = []
    for row in review_queue_qs(project=project)[:limit]:
        prompt = row.prompt
        target = prompt.overlap_target(project)
        entries.append({
            "prompt": prompt,
            "consensus": row,
            "target": target,
            "ready": row.n_judgements >= target and (target >= ceiling or row.gold_missed),
            "reason": "gold missed" if row.gold_missed else "low agreement",
        })  # fmt: skip
    # Ready prompts first: the others may still resolve with the extra judgements on the way.
    entries.sort(key=lambda e: not e["ready"])
    return entries


def review_queue_count(*, project: Project) -> int:
    return review_queue_qs(project=project).count()


def prompt_review_get(*, prompt: Prompt) -> dict[str, Any]:
    """Everything a reviewer needs for one prompt: every judgement side by side (one row per
    completion, one column per annotator), the consensus and the adjudication history."""
    completions = list(prompt.completions.order_by("position"))
    annotations = list(
        prompt.annotations.select_related("annotator").order_by("skipped", "created_at")
    )
    positions = [
        {cid: g + 1 for g, group in enumerate(a.ranking) for cid in group} for a in annotations
    ]
    consensus = PromptConsensus.objects.filter(prompt=prompt).first()
    adjudications = list(prompt.adjudications.select_related("reviewer"))
    judging = judging_shown(prompt.project)
    identity = {cid: cid for cid in prompt.completions.values_list("external_id", flat=True)}
    for adj in adjudications:  # a reviewer's decisions, by output id (they saw no letters)
        adj.judging = judgement_in_letters(adj, identity, prompt.project) if judging else None
    shown = adjudications[0].ranking if adjudications else (consensus and consensus.ranking)
    consensus_rank = {cid: g + 1 for g, group in enumerate(shown or []) for cid in group}
    ids = [c.external_id for c in completions]
    # Each annotator's own letters (what their comment means by "B"), with the mapping.
    for a in annotations:
        a.letters = letters_seen(a.shown_order, ids)
        a.letter_map = mapping_text(a.letters)
        a.ranking_letters = "" if a.skipped else ranking_in_letters(a.ranking, a.letters)
        a.judging = judgement_in_letters(a, a.letters, prompt.project)
    rows = [
        {
            "completion": c,
            "html": stored_text_html(c.text, c.html),
            "cells": [
                {
                    "rank": pos.get(c.external_id),
                    "letter": a.letters.get(c.external_id),
                    "rating": a.ratings.get(c.external_id),
                    "flags": a.flags.get(c.external_id, []),
                }
                for a, pos in zip(annotations, positions, strict=True)
            ],
            "consensus_rank": consensus_rank.get(c.external_id),
        }
        for c in completions
    ]
    prompt_html = (
        list(zip(prompt.messages, stored_messages_html(prompt.messages, prompt.messages_html),
                 strict=True))
        if prompt.messages
        else None
    )  # fmt: skip
    return {
        "prompt": prompt,
        "prompt_html": stored_text_html(prompt.text, prompt.html),
        "prompt_turns": prompt_html,
        "completion_ids": ids,
        "annotations": annotations,
        "rows": rows,
        "consensus": consensus,
        "consensus_rank": consensus_rank,
        "adjudications": adjudications,
        "judging": judging,
    }

"""What the incremental and the full consensus paths share: the stored columns of a consensus
record, the adaptive-overlap rule, and the project lock that orders their writes."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.utils import timezone

from agreement.consensus import ConsensusResult, fixed_weight_consensus
from agreement.models import PromptConsensus
from agreement.selectors import ProjectJudgements, annotator_weights_get, judgements_load
from annotate.models import Project, Prompt
from core.db import row_lock

CONSENSUS_FIELDS = [
    "prompt", "project", "ranking", "pair_probs", "scores", "agreement", "agreement_reason",
    "n_judgements", "gold_missed", "computed_at",
]  # fmt: skip
PROB_DECIMALS = 4
ID_BATCH = 5000


def project_lock(*, project: Project) -> None:
    """Hold the project's row lock to the end of the transaction.

    Every write of the project's agreement rows takes it: a flush of the prompts changed by
    submissions, each chunk of a full recompute's consensus rows, and its final write of
    weights and report. So two writers never interleave on one prompt, a full recompute's
    delete sees what was written before it, and two full recomputes cannot interleave.
    Submissions themselves never take it.
    """
    row_lock(Project.objects.filter(pk=project.pk))


def gold_missed(*, ranking: list[list[str]] | None, gold: list[list[str]] | None) -> bool:
    """Whether the consensus reverses a pair that the gold ranking orders strictly.

    A tie in the consensus where gold has an order is not a miss: the annotators were unsure,
    not wrong, and low agreement already sends such prompts to review.
    """
    if not ranking or not gold:
        return False
    have = {cid: i for i, group in enumerate(ranking) for cid in group}
    want = {cid: i for i, group in enumerate(gold) for cid in group}
    ids = [cid for cid in want if cid in have]
    for x, a in enumerate(ids):
        for b in ids[x + 1 :]:
            if (want[a] - want[b]) * (have[a] - have[b]) < 0:
                return True
    return False


def overlap_raise_target(
    *, project: Project, target_overlap: int | None, is_gold: bool, ranked: int, agreement
) -> int | None:
    """The prompt's new target overlap, or None to leave it.

    One more annotator at a time: each extra judgement gets a fresh look before the next, so a
    prompt stops growing as soon as its agreement recovers. Only once the current target is met
    (the base overlap is done), never beyond ``project.max_overlap`` (None: adaptive overlap
    off), and not for gold prompts, which measure annotators rather than need a label.
    """
    ceiling = project.max_overlap
    if not ceiling or is_gold or agreement is None:
        return None
    if agreement >= project.agreement_threshold:
        return None
    target = project.overlap if target_overlap is None else target_overlap
    if ranked < target or target >= ceiling:
        return None
    return target + 1


@lru_cache(maxsize=1024)
def _pair_keys(completion_ids: tuple[str, ...]) -> tuple[str, ...]:
    # Most prompts of a project share their completion ids (A..D): build the keys once.
    return tuple(f"{a}>{b}" for i, a in enumerate(completion_ids) for b in completion_ids[i + 1 :])


def consensus_fields(
    *, rec: dict[str, Any], completion_ids: tuple[str, ...], gold: list[list[str]] | None
) -> dict[str, Any]:
    """PromptConsensus columns from one record of ``agreement.consensus``.

    Only the pairs in completion order are stored ("A>B", not also "B>A" = 1 - P(A>B)), to four
    decimals: plenty for labels and margins, and a third of the bytes a full recompute writes.
    ``selectors.prompt_consensus_iter`` gives readers both orientations back.
    """
    probs = rec["pair_probs"]
    return {
        "ranking": rec["ranking"],
        "pair_probs": {
            pair: round(probs[pair], PROB_DECIMALS) for pair in _pair_keys(completion_ids)
        },
        "scores": {cid: round(x, PROB_DECIMALS) for cid, x in rec["scores"].items()},
        "agreement": rec["agreement"],
        "agreement_reason": (rec.get("reasons") or {}).get("agreement", "")[:200],
        "n_judgements": rec["annotators"],
        "gold_missed": gold_missed(ranking=rec["ranking"], gold=gold),
    }


# {prompt id: (target overlap read, new target)}
Raises = dict[int, tuple[int | None, int]]


def consensus_records_fields(
    *, project: Project, result: ConsensusResult, data: ProjectJudgements, prompts
) -> tuple[dict[int, dict[str, Any]], Raises]:
    """The PromptConsensus columns of every record of ``result`` that has a ranking, and the
    overlap raises they call for. ``prompts``: a Prompt queryset covering those records."""
    state = {
        pid: (target, is_gold)
        for pid, target, is_gold in prompts.values_list("id", "target_overlap", "is_gold")
    }
    fields: dict[int, dict[str, Any]] = {}
    raises: Raises = {}
    for rec in result.prompts():
        if rec["ranking"] is None:
            continue  # every judgement skipped: nothing to agree on
        pid = rec["prompt_id"]
        fields[pid] = consensus_fields(
            rec=rec, completion_ids=data.completion_ids[pid], gold=data.gold.get(pid)
        )
        target, is_gold = state[pid]
        new_target = overlap_raise_target(
            project=project,
            target_overlap=target,
            is_gold=is_gold,
            ranked=rec["annotators"],
            agreement=rec["agreement"],
        )
        if new_target is not None:
            raises[pid] = (target, new_target)
    return fields, raises


def prompts_consensus_update(*, project: Project, prompt_ids) -> list[PromptConsensus]:
    """Recompute the consensus of some prompts with the stored annotator weights, in one
    vectorised pass and one upsert; raise the overlap of those whose agreement is too low.

    The caller holds ``project_lock`` inside a transaction. Prompts whose judgements are all
    skips (or gone) lose their consensus row.
    """
    prompt_ids = sorted(set(prompt_ids))
    data = judgements_load(project=project, prompt_ids=prompt_ids)
    judgements = data.judgements
    ranked = {j.prompt_id for j in judgements if not j.skipped}
    unranked = set(prompt_ids) - ranked
    if unranked:
        PromptConsensus.objects.filter(prompt_id__in=unranked).delete()
    if not ranked:
        return []
    weights = annotator_weights_get(project=project, usernames={j.annotator for j in judgements})
    result = fixed_weight_consensus([j for j in judgements if j.prompt_id in ranked], weights)
    fields, raises = consensus_records_fields(
        project=project, result=result, data=data, prompts=Prompt.objects.filter(pk__in=ranked)
    )
    now = timezone.now()
    rows = [
        PromptConsensus(prompt_id=pid, project=project, computed_at=now, **f)
        for pid, f in fields.items()
    ]
    # One INSERT ... ON CONFLICT DO UPDATE for the lot instead of a read and a write each.
    PromptConsensus.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["prompt"],
        update_fields=[f for f in CONSENSUS_FIELDS if f not in ("prompt", "project")],
    )
    targets_raise(raises=raises)
    return rows


def targets_raise(*, raises: Raises) -> int:
    """Apply {prompt id: (target read, new target)}, each only if the target is still the one
    read (a flush and a full recompute may both have read it), a batch of ids per UPDATE."""
    by_change: dict[tuple[int | None, int], list[int]] = defaultdict(list)
    for pid, change in raises.items():
        by_change[change].append(pid)
    raised = 0
    for (old, new), ids in by_change.items():
        for lo in range(0, len(ids), ID_BATCH):
            with transaction.atomic():
                raised += Prompt.objects.filter(
                    pk__in=ids[lo : lo + ID_BATCH], target_overlap=old
                ).update(target_overlap=new)
    return raised

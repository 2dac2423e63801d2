"""Write side of the agreement app: keep consensus, annotator weights and the report current,
raise the overlap of low-agreement prompts, record reviewers' adjudications.

Two paths keep the stored consensus current:

* after every submit / skip / edit, ``prompt_agreement_schedule`` recomputes that one prompt
  with the project's stored annotator weights (a few milliseconds, so inline: see
  ``bench/bench_recompute.py``) and marks the project report stale; the first such change
  after a full recompute queues the next full one a minute later;
* ``project_agreement_recompute`` re-estimates the weights, every prompt's consensus and the
  report in one vectorised pass (the Celery task ``project_agreement_task``, the dashboard's
  Recompute button and ``manage.py agreement_report --recompute``).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import replace
from functools import lru_cache
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from agreement.consensus import consensus, prompt_consensus
from agreement.metrics import build_arrays, project_report
from agreement.models import Adjudication, AnnotatorScore, ProjectAgreement, PromptConsensus
from agreement.selectors import (
    REPORT_BOOTSTRAP,
    annotator_weights_get,
    gc_paused,
    judgements_load,
    user_can_review,
)
from annotate.db import insert_rows, row_lock
from annotate.judgements import JudgementRules, clean_ranking
from annotate.models import Annotation, Project, Prompt

logger = logging.getLogger(__name__)

CONSENSUS_FIELDS = [
    "prompt", "project", "ranking", "pair_probs", "scores", "agreement", "agreement_reason",
    "n_judgements", "gold_missed", "computed_at",
]  # fmt: skip
ID_BATCH = 5000
STALE_RECOMPUTE_DELAY_S = 60
# Consensus rows replaced per transaction by a full recompute: a submission's own update waits
# for at most one such chunk.
WRITE_CHUNK = 10_000
PROB_DECIMALS = 4


# --- pure helpers (no queries) --------------------------------------------------------------


def gold_missed(ranking: list[list[str]] | None, gold: list[list[str]] | None) -> bool:
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
    project: Project, *, target_overlap: int | None, is_gold: bool, ranked: int, agreement
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
    rec: dict[str, Any], completion_ids: tuple[str, ...], gold: list[list[str]] | None
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
        "gold_missed": gold_missed(rec["ranking"], gold),
    }


# --- one prompt, after each submission ------------------------------------------------------


def prompt_agreement_schedule(*, prompt_id: int) -> None:
    """Bring one prompt's consensus up to date after its judgements changed.

    Called by ``annotate.services.annotations`` inside ``transaction.on_commit``; runs inline
    (10 queries, 16 ms of CPU on a 2-core machine at load average 11: see
    ``bench/bench_recompute.py``). It waits at most for one chunk of a running full
    recompute's writes (``project_lock``). A failure is logged and does not fail the submission, which is already
    committed: the next full recompute repairs the consensus.
    """

    def run() -> None:
        try:
            prompt_agreement_recompute(prompt_id=prompt_id)
        except Exception:
            logger.exception("agreement: recompute of prompt %s failed", prompt_id)

    transaction.on_commit(run)


def project_lock(project: Project) -> None:
    """Hold the project's row lock to the end of the transaction.

    Every write of the project's agreement rows takes it: a submission's recompute (a few ms),
    each chunk of a full recompute's consensus rows, and its final write of weights and report.
    So recomputes of one prompt see each other's judgements, a full recompute's delete sees what
    was written before it, and two full recomputes cannot interleave. A submission waits at most
    for one chunk.
    """
    row_lock(Project.objects.filter(pk=project.pk))


@transaction.atomic
def prompt_agreement_recompute(*, prompt_id: int) -> PromptConsensus | None:
    """Recompute one prompt's consensus with the stored annotator weights; adapt its overlap."""
    prompt = Prompt.objects.select_related("project").filter(pk=prompt_id).first()
    if prompt is None:
        return None
    project = prompt.project
    project_lock(project)
    if ProjectAgreement.objects.filter(project=project, stale=False).update(stale=True):
        # The first change after a full recompute queues the next one, a little later: the
        # project-wide figures then follow the annotators with at most one recompute per delay.
        project_agreement_schedule(project_id=project.pk, delay_s=STALE_RECOMPUTE_DELAY_S)
    data = judgements_load(project, [prompt.pk])
    if not any(not j.skipped for j in data.judgements):
        PromptConsensus.objects.filter(prompt=prompt).delete()
        return None
    weights = annotator_weights_get(project, {j.annotator for j in data.judgements})
    rec = prompt_consensus(data.judgements, weights)
    fields = consensus_fields(rec, data.completion_ids[prompt.pk], prompt.gold_ranking)
    consensus_row = PromptConsensus(
        prompt=prompt, project=project, computed_at=timezone.now(), **fields
    )
    # One INSERT ... ON CONFLICT DO UPDATE instead of update_or_create's lock, read and write.
    PromptConsensus.objects.bulk_create(
        [consensus_row],
        update_conflicts=True,
        unique_fields=["prompt"],
        update_fields=[*fields, "computed_at"],
    )

    new_target = overlap_raise_target(
        project,
        target_overlap=prompt.target_overlap,
        is_gold=prompt.is_gold,
        ranked=rec["annotators"],
        agreement=rec["agreement"],
    )
    if new_target is not None:
        # Conditional on the value read, so a concurrent raise is not applied twice.
        Prompt.objects.filter(pk=prompt.pk, target_overlap=prompt.target_overlap).update(
            target_overlap=new_target
        )
    return consensus_row


# --- the whole project ----------------------------------------------------------------------


def project_agreement_schedule(*, project_id: int, delay_s: int = 0) -> None:
    """Queue a full recompute once the current transaction commits."""
    from agreement.tasks import project_agreement_task

    transaction.on_commit(
        lambda: project_agreement_task.apply_async((project_id,), countdown=delay_s or None)
    )


def _targets_raise(raises: dict[int, tuple[int | None, int]]) -> int:
    """Apply {prompt id: (target read, new target)}, each only if the target is still the one
    read: a submission's own recompute may have raised it meanwhile."""
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


def project_agreement_recompute(
    project: Project,
    *,
    bootstrap: int = REPORT_BOOTSTRAP,
    seed: int = 0,
    timings: dict[str, float] | None = None,
) -> ProjectAgreement:
    """Annotator weights, every prompt's consensus and the report, stored; overlaps adapted.

    The maths runs outside any transaction; the consensus rows are then replaced a chunk of
    prompts per transaction. Judgements that changed since the start are recomputed one by one
    afterwards, so nothing written in the meantime is lost.
    """
    timings = {} if timings is None else timings
    started = timezone.now()
    t0 = time.perf_counter()
    clock = [t0, time.process_time()]

    def lap(name: str) -> None:
        # Wall and this process's CPU seconds: on a shared machine the two differ a lot, and
        # the database server's share is in the wall time only.
        now, cpu = time.perf_counter(), time.process_time()
        timings[name] = now - clock[0]
        timings[f"{name}_cpu"] = cpu - clock[1]
        clock[:] = [now, cpu]

    with gc_paused():
        stored = _project_recompute(project, bootstrap, seed, lap)
    for pid in _changed_since(project, started):
        prompt_agreement_recompute(prompt_id=pid)
    lap("catch_up")
    stored.duration_ms = round((time.perf_counter() - t0) * 1000)
    stored.save(update_fields=["duration_ms"])
    timings["total"] = time.perf_counter() - t0
    return stored


def _project_recompute(project: Project, bootstrap: int, seed: int, lap) -> ProjectAgreement:
    data = judgements_load(project)
    lap("read")
    arrays = build_arrays(data.judgements, data.gold)
    lap("build_arrays")
    result = consensus(arrays)
    lap("consensus")
    report = project_report(arrays, bootstrap=bootstrap, seed=seed)
    lap("report")
    for entry in report.get("annotators", []):
        entry["weight"] = result.annotator_weights.get(entry["annotator"])

    prompts = {
        pid: (target, is_gold)
        for pid, target, is_gold in Prompt.objects.filter(project=project).values_list(
            "id", "target_overlap", "is_gold"
        )
    }
    now = timezone.now()
    rows = []
    raises: dict[int, tuple[int | None, int]] = {}
    for rec in result.prompts():
        if rec["ranking"] is None:
            continue  # every judgement skipped: nothing to agree on
        pid = rec["prompt_id"]
        fields = consensus_fields(rec, data.completion_ids[pid], data.gold.get(pid))
        rows.append((pid, project.pk, *fields.values(), now))
        target, is_gold = prompts[pid]
        new_target = overlap_raise_target(
            project,
            target_overlap=target,
            is_gold=is_gold,
            ranked=rec["annotators"],
            agreement=rec["agreement"],
        )
        if new_target is not None:
            raises[pid] = (target, new_target)
    rows.sort()
    lap("rows")

    user_ids = {name: uid for uid, name in data.usernames.items()}
    scores = [
        AnnotatorScore(
            project=project,
            annotator_id=user_ids[entry["annotator"]],
            weight=entry["weight"],
            agreement=entry.get("pairwise_agreement"),
            n_judgements=entry.get("judgements", 0),
            stats={**entry, "reliability": result.reliability.get(entry["annotator"], {})},
            computed_at=now,
        )
        for entry in report.get("annotators", [])
    ]
    _consensus_replace(project, rows)
    report_meta = {"raised_overlap": _targets_raise(raises)}
    with transaction.atomic():
        project_lock(project)
        AnnotatorScore.objects.filter(project=project).delete()
        AnnotatorScore.objects.bulk_create(scores)
        stored, _ = ProjectAgreement.objects.update_or_create(
            project=project,
            defaults={
                "report": {**report, "recompute": report_meta},
                "n_prompts": arrays.n_prompts,
                "n_judgements": arrays.n_rows,
                "duration_ms": 0,
                "computed_at": now,
                "stale": False,
            },
        )
    lap("write")  # including the commit
    return stored


def _consensus_replace(project: Project, rows: list[tuple]) -> None:
    """Replace the project's consensus rows by ``rows`` (sorted by prompt id), a range of prompt
    ids per transaction under the project lock, so a submission's own update never waits for
    the whole write.

    Readers may meanwhile see some prompts from the previous recompute and some from this one;
    each row is a consistent consensus either way.
    """
    previous = None
    for lo in range(0, max(len(rows), 1), WRITE_CHUNK):
        chunk = rows[lo : lo + WRITE_CHUNK]
        last = lo + WRITE_CHUNK >= len(rows)
        stale = PromptConsensus.objects.filter(project=project)
        if previous is not None:
            stale = stale.filter(prompt_id__gt=previous)
        if not last:
            stale = stale.filter(prompt_id__lte=chunk[-1][0])
        with transaction.atomic():
            project_lock(project)
            stale.delete()
            insert_rows(PromptConsensus, CONSENSUS_FIELDS, chunk)
        previous = chunk[-1][0] if chunk else previous


def _changed_since(project: Project, since) -> list[int]:
    return list(
        Annotation.objects.filter(prompt__project=project, updated_at__gte=since)
        .order_by()
        .values_list("prompt_id", flat=True)
        .distinct()
    )


# --- review ---------------------------------------------------------------------------------


def prompt_adjudicate(*, prompt: Prompt, reviewer, ranking: Any, comment: str = "") -> Adjudication:
    """Record a reviewer's ranking of a prompt; it overrides the computed consensus.

    Every completion must be placed (it becomes the label); ties follow the project's rule.
    Raises PermissionDenied for non-reviewers and ``annotate.judgements.JudgementError`` for a
    bad ranking.
    """
    project = prompt.project
    if not user_can_review(reviewer, project):
        raise PermissionDenied("only reviewers and admins adjudicate")
    completion_ids = list(
        prompt.completions.order_by("position").values_list("external_id", flat=True)
    )
    rules = replace(JudgementRules.for_project(project), require_all_placed=True)
    cleaned = clean_ranking(ranking, completion_ids, rules)
    current = PromptConsensus.objects.filter(prompt=prompt).first()
    return Adjudication.objects.create(
        prompt=prompt,
        reviewer=reviewer,
        ranking=cleaned,
        comment=comment.strip(),
        consensus_ranking=current.ranking if current else None,
        consensus_agreement=current.agreement if current else None,
    )

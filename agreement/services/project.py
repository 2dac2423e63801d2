"""The full recompute: annotator weights, every prompt's consensus and the report, in one
vectorised pass (the Celery task ``project_agreement_task``, the dashboard's Recompute button
and ``manage.py agreement_report --recompute``)."""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone

from agreement.consensus import consensus
from agreement.metrics import build_arrays, project_report
from agreement.models import AnnotatorScore, ProjectAgreement, PromptConsensus
from agreement.selectors import (
    REPORT_BOOTSTRAP,
    gc_paused,
    judgements_load,
    judging_section_add,
)
from agreement.services.common import (
    CONSENSUS_FIELDS,
    consensus_records_fields,
    project_lock,
    prompts_consensus_update,
    targets_raise,
)
from annotate.models import Annotation, Project, Prompt
from core.db import insert_rows
from core.dispatch import task_enqueue
from core.events import AGREEMENT_REPORT_STORED, event_publish

# Consensus rows replaced per transaction by a full recompute: a flush of submitted prompts
# waits for at most one such chunk.
WRITE_CHUNK = 10_000
STALE_RECOMPUTE_DELAY_S = 60


@transaction.atomic
def project_agreement_after_import(*, project_id: int, judgements_created: int, **_) -> None:
    """An import with judgements changes agreement and consensus: recompute after its commit.
    An import of prompts alone changes neither."""
    if judgements_created:
        project_agreement_schedule(project_id=project_id)


def project_agreement_schedule(
    *, project_id: int, delay_s: int = 0, require_broker: bool = False
) -> None:
    """Queue a full recompute once the current transaction commits.

    ``require_broker`` for a person's Recompute button (503 when the broker is down); the
    recomputes that follow imports and flushes go through the outbox and are sent when the
    broker is back.
    """
    from agreement.tasks import project_agreement_task

    task_enqueue(
        task=project_agreement_task, args=[project_id], countdown=delay_s or None,
        require_broker=require_broker,
    )  # fmt: skip


def project_report_stale_mark(*, project: Project) -> None:
    """Judgements changed after the stored report: mark it stale; the first such change after
    a full recompute queues the next one, a little later, so the project-wide figures follow
    the annotators at most once per delay."""
    if ProjectAgreement.objects.filter(project=project, stale=False).update(stale=True):
        project_agreement_schedule(project_id=project.pk, delay_s=STALE_RECOMPUTE_DELAY_S)


def project_agreement_recompute(
    *,
    project: Project,
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
    changed = _changed_since(project, started)
    if changed:
        with transaction.atomic():
            project_lock(project=project)
            prompts_consensus_update(project=project, prompt_ids=changed)
            project_report_stale_mark(project=project)
    lap("catch_up")
    stored.duration_ms = round((time.perf_counter() - t0) * 1000)
    stored.save(update_fields=["duration_ms"])
    event_publish(AGREEMENT_REPORT_STORED, project_id=project.pk, report=stored.report)
    timings["total"] = time.perf_counter() - t0
    return stored


def _project_recompute(project: Project, bootstrap: int, seed: int, lap) -> ProjectAgreement:
    data = judgements_load(project=project)
    lap("read")
    arrays = build_arrays(data.judgements, data.gold)
    lap("build_arrays")
    result = consensus(arrays)
    lap("consensus")
    report = project_report(arrays, bootstrap=bootstrap, seed=seed)
    judging_section_add(report=report, project=project, judgements=data.judgements)
    lap("report")
    for entry in report.get("annotators", []):
        entry["weight"] = result.annotator_weights.get(entry["annotator"])

    now = timezone.now()
    fields, raises = consensus_records_fields(
        project=project, result=result, data=data, prompts=Prompt.objects.filter(project=project)
    )
    rows = sorted((pid, project.pk, *f.values(), now) for pid, f in fields.items())
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
    report_meta = {"raised_overlap": targets_raise(raises=raises)}
    with transaction.atomic():
        project_lock(project=project)
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
            project_lock(project=project)
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

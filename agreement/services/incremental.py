"""Keeping each prompt's consensus current as judgements arrive, off the request path.

A submission, skip or edit writes a ``PendingConsensus`` row for its prompt in its own
transaction (an outbox: committed with the judgement, or not at all) and, once committed,
makes sure one flush of the project is queued. The flush runs on the worker a moment later
and recomputes every pending prompt of the project in one vectorised pass with the stored
annotator weights. So the annotator's request pays for one small insert, not for the
consensus maths and the project lock (about 15 ms of CPU each before: ``docs/benchmarks.md``,
"Work queue"), and a burst of submissions costs one flush, not one recompute each.

A flush lost with its broker message is repaired by the next submission of that project or
by the periodic sweep (``pending_consensus_sweep_task``), since the pending rows stay.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from agreement.models import PendingConsensus, PromptConsensus
from agreement.services.common import project_lock, prompts_consensus_update
from agreement.services.project import project_report_stale_mark
from annotate.models import Project, Prompt
from core.dispatch import task_enqueue
from core.events import CONSENSUS_FLUSHED, event_publish

logger = logging.getLogger(__name__)

# Submissions within this window share one flush; the consensus lags by about this much.
FLUSH_DELAY_S = 1.0
# A queued flush whose message was lost stops blocking new ones after this long.
FLUSH_KEY_TTL_S = 60
FLUSH_BATCH = 2000


def _flush_key(project_id: int) -> str:
    return f"agreement:flush-queued:{project_id}"


def prompt_agreement_schedule(*, prompt_id: int, project_id: int) -> None:
    """Mark the prompt's consensus out of date, in the caller's transaction, and queue a flush
    of its project once that commits."""
    # ON CONFLICT DO UPDATE, not DO NOTHING: when the prompt is already pending, the update
    # holds that row's lock to our commit, so a flush deleting it waits and then reads our
    # judgement. DO NOTHING takes no lock: the flush could delete the row and read the
    # judgements before we commit, losing ours (found at 200 annotators by
    # bench/bench_load_faults.py; tests/agreement/test_pending_consensus_race.py).
    PendingConsensus.objects.bulk_create(
        [PendingConsensus(prompt_id=prompt_id, project_id=project_id, queued_at=timezone.now())],
        update_conflicts=True, unique_fields=["prompt"], update_fields=["queued_at"],
    )  # fmt: skip
    transaction.on_commit(lambda: project_consensus_flush_enqueue(project_id=project_id))


def project_consensus_flush_enqueue(*, project_id: int) -> None:
    """Queue a flush unless one is already queued and not yet started.

    The flush clears the marker before it reads the pending rows, so a submission that finds
    the marker set committed its row before that read: its prompt is in that flush. The marker
    lives in the cache (Redis in production, shared by every web process); with a per-process
    cache the guarantee holds per process and only some flushes are redundant. While the
    cache is unreachable there is no marker and every submission queues a flush (they are
    idempotent); the message is best effort, because the submission is committed and its
    pending row stays for the next flush or the periodic sweep.
    """
    from agreement.tasks import project_consensus_flush_task

    key = _flush_key(project_id)
    if not cache.add(key, 1, timeout=FLUSH_KEY_TTL_S) and getattr(cache, "reachable", True):
        return
    task_enqueue(
        task=project_consensus_flush_task, args=[project_id], countdown=FLUSH_DELAY_S,
        require_broker=False, durable=False, on_lost=lambda: cache.delete(key),
    )  # fmt: skip


def project_consensus_flush(*, project_id: int) -> int:
    """Recompute the consensus of every pending prompt of the project; return how many.

    Each batch is one transaction under the project lock: the pending rows are deleted, then
    the judgements read, so a judgement committed after that read leaves a pending row for the
    next flush (its insert waits for our delete to commit).
    """
    cache.delete(_flush_key(project_id))
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    done = 0
    while True:
        with transaction.atomic():
            project_lock(project=project)
            ids = list(
                PendingConsensus.objects.filter(project_id=project_id)
                .order_by("prompt_id")
                .values_list("prompt_id", flat=True)[:FLUSH_BATCH]
            )
            if not ids:
                if done:  # the queue may just have run dry (webhooks listens)
                    event_publish(CONSENSUS_FLUSHED, project_id=project_id)
                return done
            PendingConsensus.objects.filter(prompt_id__in=ids).delete()
            project_report_stale_mark(project=project)
            prompts_consensus_update(project=project, prompt_ids=ids)
        done += len(ids)


def pending_consensus_sweep() -> dict[int, int]:
    """Flush every project that has pending prompts (the periodic safety net)."""
    project_ids = (
        PendingConsensus.objects.order_by().values_list("project_id", flat=True).distinct()
    )
    return {pid: project_consensus_flush(project_id=pid) for pid in list(project_ids)}


@transaction.atomic
def prompt_agreement_recompute(*, prompt_id: int) -> PromptConsensus | None:
    """Recompute one prompt's consensus now, with the stored annotator weights."""
    prompt = Prompt.objects.select_related("project").filter(pk=prompt_id).first()
    if prompt is None:
        return None
    project_lock(project=prompt.project)
    rows = prompts_consensus_update(project=prompt.project, prompt_ids=[prompt.pk])
    return rows[0] if rows else None

"""Operations, write side: send what the outbox still holds, and reap tasks whose worker died.

Both run from Celery beat (``core.outbox_sweep``, ``core.tasks_reap_stale``) and from
``manage.py reap_stale_tasks``; both are safe to run twice at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core.dispatch import task_app, task_send
from core.models import OutboxMessage

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
# Each app's reaper: ``() -> {"requeued": [ids], "failed": [ids]}`` for its long tasks.
REAPERS = {
    "import_jobs": "annotate.services.import_jobs.import_jobs_reap_stale",
    "snapshots": "exports.services.snapshots_reap_stale",
    "training_runs": "training.services.training_runs_reap_stale",
    "generation_jobs": "training.services.generation_jobs_reap_stale",
}


def _queue_sizes(names: set[str]) -> dict[str, int]:
    """Messages waiting in each queue; raises if the broker is unreachable."""
    from amqp.exceptions import ChannelError

    app = task_app()

    sizes: dict[str, int] = {}
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=0, interval_start=0, interval_step=0,
                               timeout=float(settings.BROKER_CHECK_TIMEOUT))  # fmt: skip
        for name in names:
            with conn.channel() as channel:
                try:
                    sizes[name] = channel.queue_declare(queue=name, passive=True).message_count
                except ChannelError:  # 404: Redis keeps no key for an empty queue
                    sizes[name] = 0
    return sizes


def outbox_sweep(*, now=None) -> dict[str, int]:
    """Send outbox messages that were never sent, and again those that were lost.

    A message still here ``TASK_OUTBOX_GRACE_SECONDS`` after its countdown ended was not
    started. If it was never sent, it is sent now. If it was sent and its queue is empty, no
    worker holds it any more (a broker restarted without persistence loses its queues): it
    is sent again with the same task id. While its queue still has messages it is left to
    wait its turn, so a busy queue does not fill with copies.
    """
    app = task_app()

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=float(settings.TASK_OUTBOX_GRACE_SECONDS))
    due = OutboxMessage.objects.filter(not_before__lte=cutoff).filter(
        Q(sent_at__isnull=True) | Q(sent_at__lte=cutoff)
    )
    outcome = {"sent": 0, "resent": 0, "waiting": 0, "failed": 0}
    with transaction.atomic():
        rows = list(due.select_for_update(skip_locked=True).order_by("id")[:SWEEP_BATCH])
        if not rows:
            return outcome
        try:
            sizes = {} if app.conf.task_always_eager else _queue_sizes({r.queue for r in rows})
        except Exception as exc:
            logger.warning("outbox: broker unreachable (%s); %d message(s) wait", exc, len(rows))
            outcome["failed"] = len(rows)
            return outcome
        by_outcome: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            if row.sent_at is not None and sizes.get(row.queue, 0) > 0:
                outcome["waiting"] += 1
                continue
            try:
                task_send(task_name=row.task_name, args=row.args, kwargs=row.kwargs,
                          task_id=row.task_id)  # fmt: skip
            except Exception as exc:
                logger.warning("outbox: %s[%s] not sent: %s", row.task_name, row.task_id, exc)
                OutboxMessage.objects.filter(pk=row.pk).update(last_error=str(exc)[:2000])
                outcome["failed"] += 1
                break  # the broker is down: the rest wait for the next sweep
            by_outcome["resent" if row.sent_at else "sent"].append(row.pk)
        for kind, ids in by_outcome.items():
            outcome[kind] = len(ids)
            OutboxMessage.objects.filter(pk__in=ids).update(
                sent_at=timezone.now(), sends=F("sends") + 1, last_error=""
            )
    if outcome["sent"] or outcome["resent"]:
        logger.warning("outbox: sent %(sent)d, re-sent %(resent)d lost message(s)", outcome)
    return outcome


def tasks_reap_stale() -> dict[str, dict[str, list[int]]]:
    """Every app's reaper: long tasks without a heartbeat for ``TASK_STALE_SECONDS`` are
    re-queued or failed with the reason, and their temporary files removed."""
    return {name: import_string(path)() for name, path in REAPERS.items()}

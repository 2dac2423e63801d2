"""Heartbeats of long tasks, and the threshold past which a reaper writes one off.

A task that builds a snapshot, trains a model or generates completions runs inside
:class:`Heartbeat`: a thread writes ``heartbeat_at = now()`` on the task's row every
``TASK_HEARTBEAT_SECONDS``, whatever the task is doing (loading a model, writing a Parquet
file). A worker killed with SIGKILL stops writing; once the row's heartbeat is older than
``TASK_STALE_SECONDS`` the app's reaper (``core.maintenance.tasks_reap_stale``, Celery beat every
minute, or ``manage.py reap_stale_tasks``) re-queues the task or fails it with the reason.

A hung process keeps its heartbeat: hangs are for time limits and cancellation, not reapers.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)


def heartbeat_interval() -> float:
    return float(settings.TASK_HEARTBEAT_SECONDS)


def stale_after() -> timedelta:
    return timedelta(seconds=float(settings.TASK_STALE_SECONDS))


def max_attempts() -> int:
    return int(settings.TASK_MAX_ATTEMPTS)


class Heartbeat:
    """``with Heartbeat(queryset):`` updates ``heartbeat_at`` of the rows of ``queryset``
    (one row, filtered so that a superseded attempt matches nothing) from a thread.

    ``lost`` turns true when the update matched no row: the row was deleted or another
    attempt took it over, and the task should stop.
    """

    def __init__(self, queryset, *, interval: float | None = None, field: str = "heartbeat_at"):
        self.queryset = queryset
        self.interval = heartbeat_interval() if interval is None else interval
        self.field = field
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-heartbeat", daemon=True)

    def beat(self) -> None:
        if not self.queryset.update(**{self.field: timezone.now()}):
            self.lost = True

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:
                    # A database blip must not kill the task; the next beat tries again.
                    logger.warning("heartbeat write failed", exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        # A beat stuck on a lock must not hold the task's result back for long.
        self._thread.join(timeout=max(5.0, self.interval))

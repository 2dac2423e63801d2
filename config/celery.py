import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

logger = logging.getLogger(__name__)

app = Celery("rankwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _survive_restore_without_a_connection() -> None:
    """Keep a worker alive when Redis goes away while it holds unacknowledged messages.

    With kombu 5.7's Redis transport, losing the broker while messages are unacknowledged
    (a task at work under ``acks_late``, or one reserved for its countdown, like every
    consensus flush) ends the worker: closing the channel restores those messages through a
    connection that is gone, raises ``AttributeError: 'NoneType' object has no attribute
    'hostname'``, and Celery treats that as unrecoverable. Found by
    bench/bench_load_faults.py; reproduced in tests/faults/test_redis_outage.py.

    Skipping the restore loses nothing Rankwise needs: the messages stay in Redis's unacked
    set and come back after the visibility timeout, or died with a Redis that restarted
    empty, and the work they carried is recovered by the task outbox (``core.dispatch``), the
    reapers and the consensus sweep. So the worker logs it and reconnects.
    """
    from kombu.transport import redis as kombu_redis

    restore = kombu_redis.QoS.restore_unacked
    if getattr(restore, "rankwise_tolerant", False):
        return

    def restore_unacked(self, client=None):
        try:
            return restore(self, client)
        except AttributeError as exc:
            logger.warning(
                "broker connection gone: %d unacknowledged message(s) not restored (%s); the "
                "outbox, reapers and sweeps recover their work",
                len(self._delivered), exc,
            )  # fmt: skip
            self._delivered.clear()

    restore_unacked.rankwise_tolerant = True
    kombu_redis.QoS.restore_unacked = restore_unacked


_survive_restore_without_a_connection()

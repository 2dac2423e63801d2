"""The one way a service queues a Celery task: :func:`task_enqueue`.

It keeps the two promises every request makes (docs/operations.md, "Faults"):

* An error never hides a stored write. Work a person asked for (a snapshot, a training run,
  a generation job, a resume) checks the broker before anything commits; when the broker is
  down :class:`BrokerUnavailable` propagates, the caller's ``transaction.atomic`` rolls back,
  and the client gets 503 with nothing written.
* An acknowledged answer is never an error. Once the check passed, the message is written to
  the outbox (:class:`core.models.OutboxMessage`) in the caller's transaction and sent when that
  commits. If the send fails (the broker went away in between) the client still gets its 202,
  because the row stays and ``core.maintenance.outbox_sweep`` sends it when the broker is back; a
  worker that starts the task deletes the row.

Tasks must therefore be idempotent under a second delivery: each claims its row under a
lock and skips work that is done or taken (``snapshot_build``, ``training_run_execute``,
``generation_job_execute``, the import task).

To adopt it in a new service::

    @transaction.atomic
    def thing_start(*, ...):
        thing = Thing.objects.create(...)
        task_enqueue(task=tasks.thing_execute, args=[thing.pk])   # 503 if the broker is down
        return thing

and map nothing in the view: ``core.api.errors`` turns :class:`BrokerUnavailable` into a 503 JSON
answer and ``core.middleware`` into a 503 page.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import ServiceError

logger = logging.getLogger(__name__)

# monotonic time until which this process treats the broker as down without trying it again
_broker_down_until = 0.0


class BrokerUnavailable(ServiceError):
    """The task queue cannot take a message now; nothing was written (raised before the
    service's transaction committed)."""

    code = "broker_unavailable"
    status = 503
    retry_after = 30

    def __init__(self, detail: str = ""):
        super().__init__(
            "The task queue (broker) is unreachable, so this work cannot be queued now; "
            "nothing was saved. Try again in a minute."
        )
        self.detail = detail  # for the log: it may name hosts the client need not see


def task_app():
    return import_string(settings.TASK_APP)


def _eager() -> bool:
    return bool(task_app().conf.task_always_eager)


def _note_broker_down() -> None:
    global _broker_down_until
    _broker_down_until = time.monotonic() + float(settings.BROKER_RETRY_SECONDS)


def broker_check() -> None:
    """Raise :class:`BrokerUnavailable` unless the broker accepts a connection now.

    In eager mode (tests, ``CELERY_TASK_ALWAYS_EAGER``) there is no broker to ask. After a
    failure the broker counts as down for ``BROKER_RETRY_SECONDS`` without another try, so an
    outage where connecting hangs costs each request nothing.
    """
    global _broker_down_until
    if _eager():
        return
    if time.monotonic() < _broker_down_until:
        raise BrokerUnavailable("it failed a moment ago")
    timeout = float(settings.BROKER_CHECK_TIMEOUT)
    try:
        with task_app().connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=0, interval_start=0, interval_step=0, timeout=timeout
            )
    except Exception as exc:
        _note_broker_down()
        logger.warning("broker unreachable: %s: %s", type(exc).__name__, exc)
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    _broker_down_until = 0.0


def task_queue_name(task_name: str, args: Sequence = (), kwargs: dict | None = None) -> str:
    """The queue the router sends ``task_name`` to (``CELERY_TASK_ROUTES``)."""
    route = task_app().amqp.router.route({}, task_name, tuple(args), kwargs or {})
    queue = route.get("queue")
    return getattr(queue, "name", None) or str(queue or settings.CELERY_TASK_DEFAULT_QUEUE)


def task_send(
    *,
    task_name: str,
    args: Sequence = (),
    kwargs: dict | None = None,
    task_id: str | None = None,
    countdown: float | None = None,
    retry: bool = True,
) -> None:
    """Publish now (no outbox); raises what the broker raised. For the sweeper and
    :func:`task_enqueue` only."""
    app = task_app()
    options: dict[str, Any] = {"task_id": task_id, "countdown": countdown or None, "retry": retry}
    if retry:
        options["retry_policy"] = {
            "max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5,
        }  # fmt: skip
    if app.conf.task_always_eager:
        if task_name not in app.tasks:
            # The task runs here, so its module must be imported. (Not on every send: this
            # re-runs Django's logging setup through Celery's import signal.)
            app.loader.import_default_modules()
        app.tasks[task_name].apply_async(list(args), kwargs or {}, **options)
    else:
        with app.producer_or_acquire() as producer:
            # A pooled connection that is up costs nothing here; a broker that is down fails
            # at once instead of kombu retrying the connection until its timeout (~6 s of a
            # request's time in the load-and-fault bench before this).
            producer.connection.ensure_connection(
                max_retries=1 if retry else 0, interval_start=0, interval_step=0.2,
                timeout=float(settings.BROKER_CHECK_TIMEOUT),
            )  # fmt: skip
            # By name: the sender need not import the task's module (routes match names).
            app.send_task(task_name, list(args), kwargs or {}, producer=producer, **options)


def _send_outbox_message(message_id: int, task_name: str, args, kwargs, task_id, countdown):
    from core.models import OutboxMessage

    if not _eager() and time.monotonic() < _broker_down_until:
        return  # the broker failed a moment ago: the row waits for the sweep, at no cost here
    try:
        task_send(task_name=task_name, args=args, kwargs=kwargs, task_id=task_id,
                  countdown=countdown)  # fmt: skip
    except Exception as exc:
        if _eager():
            raise  # the task itself failed inline: a bug a test must see
        _note_broker_down()
        logger.warning(
            "task %s[%s] not sent (%s); the outbox sweeper will send it", task_name, task_id, exc
        )
        OutboxMessage.objects.filter(pk=message_id).update(last_error=str(exc)[:2000])
        return
    # A fast worker may have started (and deleted the row) already: then this updates nothing.
    OutboxMessage.objects.filter(pk=message_id).update(sent_at=timezone.now(), sends=F("sends") + 1)


def _send_best_effort(task_name: str, args, kwargs, countdown, on_lost) -> None:
    if not _eager() and time.monotonic() < _broker_down_until:
        if on_lost:
            on_lost()
        return
    try:
        task_send(task_name=task_name, args=args, kwargs=kwargs, countdown=countdown, retry=False)
    except Exception as exc:
        # In eager mode this also catches the task itself failing inline: keep its traceback.
        eager = _eager()
        if not eager:
            _note_broker_down()
        logger.warning(
            "task %s not sent (%s: %s); its own sweep will catch up",
            task_name, type(exc).__name__, exc, exc_info=eager,
        )  # fmt: skip
        if on_lost:
            on_lost()


def task_enqueue(
    *,
    task,
    args: Sequence = (),
    kwargs: dict | None = None,
    countdown: float | None = None,
    task_id: str | None = None,
    require_broker: bool = True,
    durable: bool = True,
    on_lost: Callable[[], None] | None = None,
) -> str:
    """Queue ``task`` to run once the caller's transaction commits; return the task id.

    ``require_broker``: check the broker now and raise :class:`BrokerUnavailable` if it is
    down (the caller's transaction rolls back; the client gets 503). Use it for work a person
    asks for; internal re-queues (reapers) leave it off and rely on the outbox.

    ``durable`` (the default) writes an outbox row in the caller's transaction, which must be
    an atomic block. ``durable=False`` is for messages whose loss something else repairs (the
    consensus flush has its pending rows and their sweep): sent once, without retries, and
    skipped while the broker is known to be down, so the request never waits on it;
    ``on_lost`` is called when it was not sent. It is sent at once: call it after commit
    (from ``transaction.on_commit``), as the consensus flush does.
    """
    from core.models import OutboxMessage

    name = task.name if hasattr(task, "name") else str(task)
    args, kwargs = list(args), dict(kwargs or {})
    if require_broker:
        broker_check()
    if not durable:
        _send_best_effort(name, args, kwargs, countdown, on_lost)
        return ""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "task_enqueue(durable=True) must run inside transaction.atomic, so that the "
            "outbox row commits with the row the task works on"
        )
    task_id = task_id or str(uuid.uuid4())
    message = OutboxMessage.objects.create(
        task_name=name,
        task_id=task_id,
        args=args,
        kwargs=kwargs,
        queue=task_queue_name(name, args, kwargs),
        not_before=timezone.now() + timedelta(seconds=countdown or 0),
    )
    transaction.on_commit(
        lambda: _send_outbox_message(message.pk, name, args, kwargs, task_id, countdown)
    )
    return task_id


def outbox_message_started(sender=None, task_id=None, **_kwargs) -> None:
    """``task_prerun`` receiver: the worker has the message, so the outbox forgets it."""
    from core.models import OutboxMessage

    if not task_id:
        return
    try:
        OutboxMessage.objects.filter(task_id=task_id).delete()
    except Exception:
        # The task still runs; at worst the sweeper sends a duplicate, which it skips.
        logger.warning("could not clear outbox row of task %s", task_id, exc_info=True)

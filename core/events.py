"""Named events: how a lower app tells the apps above it that something happened, without
importing them (the layers in pyproject.toml forbid that).

``annotate`` publishes ``judgement.changed`` and ``prompts.imported``; ``agreement`` subscribes
when Django starts (``AgreementConfig.ready``) and keeps consensus up to date. ``annotate``
also publishes ``import_job.finished``, and ``agreement`` ``consensus.flushed`` and
``agreement.report_stored``, which ``webhooks`` turns into deliveries. Handlers run
synchronously, in the publisher's transaction, in subscription order: a subscriber's own writes
(the prompt's pending-consensus row) commit or roll back with the judgement that caused them,
as they did when annotate called agreement directly. A handler that needs the commit (queueing
a Celery task) defers that part itself with ``transaction.on_commit`` / ``core.dispatch``.
An exception in a handler propagates to the publisher: nothing is swallowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# event name -> (dispatch_uid, handler) in subscription order
_handlers: dict[str, list[tuple[str, Callable[..., Any]]]] = {}

JUDGEMENT_CHANGED = "judgement.changed"  # prompt_id, project_id
PROMPTS_IMPORTED = "prompts.imported"  # project_id, prompts_created, judgements_created
IMPORT_JOB_FINISHED = "import_job.finished"  # job (succeeded or failed)
CONSENSUS_FLUSHED = "consensus.flushed"  # project_id (worker, after submissions)
AGREEMENT_REPORT_STORED = "agreement.report_stored"  # project_id, report (a full recompute)


def event_subscribe(name: str, handler: Callable[..., Any], *, uid: str) -> None:
    """Call ``handler(**payload)`` on each ``event_publish(name, ...)``. ``uid`` makes a second
    subscription under the same id (``ready()`` running twice) a no-op."""
    handlers = _handlers.setdefault(name, [])
    if all(existing != uid for existing, _ in handlers):
        handlers.append((uid, handler))


def event_publish(name: str, **payload: Any) -> None:
    for _, handler in list(_handlers.get(name, ())):
        handler(**payload)

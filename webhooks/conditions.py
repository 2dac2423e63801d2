"""Condition events: ``queue.empty`` and ``agreement.below_threshold``.

Unlike a finished run, these describe a state that lasts. Each endpoint remembers whether the
condition held when last checked (``WebhookCondition``) and is sent the event only when it
starts to hold: a project whose agreement stays low is announced once, not after every
recompute, and announced again only after it has been back above the threshold.

When they are checked, on the worker and never in an annotator's request:

* the queue, after each consensus flush (agreement publishes ``consensus.flushed``; flushes
  follow submissions by a second or two, debounced per project), and re-armed when prompts are
  imported (``prompts.imported``): new work means the next time the queue runs dry is news;
* agreement, after each full recompute (``agreement.report_stored``), against each endpoint's
  own ``agreement_metric`` and ``agreement_threshold``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotate.models import Project, Prompt
from annotate.selectors import prompts_open_q
from webhooks import events
from webhooks.models import WebhookCondition, WebhookEndpoint
from webhooks.services import webhook_endpoints_subscribed, webhook_event_emit


def _transition(endpoint: WebhookEndpoint, event_type: str, holds: bool) -> bool:
    """Store whether the condition holds; True when it has just started to."""
    condition, _ = WebhookCondition.objects.select_for_update().get_or_create(
        endpoint=endpoint, event_type=event_type
    )
    started = holds and not condition.holds
    if condition.holds != holds:
        condition.holds = holds
        condition.save(update_fields=["holds", "changed_at"])
    return started


@transaction.atomic
def webhook_queue_check(*, project_id: int) -> int:
    """``queue.empty`` to the endpoints for which the project's queue has just run dry."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    endpoints = webhook_endpoints_subscribed(project=project, event_type=events.QUEUE_EMPTY)
    if not endpoints:
        return 0
    empty = not Prompt.objects.filter(prompts_open_q(project=project)).exists()
    fresh = [e for e in endpoints if _transition(e, events.QUEUE_EMPTY, empty)]
    if not fresh:
        return 0
    prompts = Prompt.objects.filter(project=project, is_gold=False).count()
    data = {"queue": {"open_prompts": 0, "prompts": prompts, "overlap": project.overlap}}
    return len(
        webhook_event_emit(
            project=project, event_type=events.QUEUE_EMPTY, data=data, endpoints=fresh
        )
    )


def webhook_queue_rearm(*, project_id: int, prompts_created: int = 0, **_) -> None:
    """New prompts: the queue is open again, whatever the last check found."""
    if not prompts_created:
        return
    WebhookCondition.objects.filter(
        endpoint__project_id=project_id, event_type=events.QUEUE_EMPTY, holds=True
    ).update(holds=False)


@transaction.atomic
def webhook_agreement_check(*, project_id: int, report: dict[str, Any]) -> int:
    """``agreement.below_threshold`` to the endpoints whose figure has just dropped under
    their threshold. A figure the report could not compute (too few overlapping judgements)
    changes nothing."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    sent = 0
    for endpoint in webhook_endpoints_subscribed(
        project=project, event_type=events.AGREEMENT_BELOW
    ):
        value = _figure(report, endpoint.agreement_metric)
        if value is None or endpoint.agreement_threshold is None:
            continue
        if _transition(endpoint, events.AGREEMENT_BELOW, value < endpoint.agreement_threshold):
            data = {"agreement": {
                "metric": endpoint.agreement_metric, "value": value,
                "threshold": endpoint.agreement_threshold,
                "prompts": (report.get("counts") or {}).get("prompts"),
                "url": f"/api/v1/projects/{project.slug}/agreement/",
            }}  # fmt: skip
            sent += len(
                webhook_event_emit(
                    project=project,
                    event_type=events.AGREEMENT_BELOW,
                    data=data,
                    endpoints=[endpoint],
                )
            )
    return sent


def _figure(report: dict[str, Any], metric: str) -> float | None:
    if metric == "krippendorff_alpha_ranking":
        value = (report.get("krippendorff_alpha") or {}).get("ranking")
    else:
        value = report.get(metric)
    if isinstance(value, dict):  # an estimate stored with its reason
        value = value.get("value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

"""Webhooks: registering endpoints, emitting events, sending and replaying deliveries.

An event becomes one ``WebhookDelivery`` row per subscribed endpoint, written in the same
transaction as the state change it reports, and its send is queued through
``core.dispatch.task_enqueue`` (an outbox row in that transaction): a broker outage delays the
delivery, never loses it, and never fails the change. The send runs on the ``webhooks``
queue, so a slow or failing receiver occupies only that queue's workers, never a request or
the default queue. A failed attempt is retried with exponential backoff
(``WEBHOOKS_BACKOFF_SECONDS`` doubled per attempt, capped) up to ``WEBHOOKS_MAX_ATTEMPTS``;
``webhook_deliveries_sweep`` (beat) re-queues any delivery whose next attempt is overdue, so
a worker killed mid-send loses nothing either.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.dispatch import task_enqueue
from core.services import audit_event_record
from webhooks import events, signing, transport
from webhooks.endpoints import (  # noqa: F401  (the app's one service module for callers)
    _audit,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)
from webhooks.models import WebhookDelivery, WebhookEndpoint

SENT = "sent"
RETRY = "retry"
GAVE_UP = "failed"
SKIPPED = "skipped"  # already final, or an attempt is in flight / not due yet
USER_AGENT = "Rankwise-Webhooks/1"


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- endpoints -------------------------------------------------------------------------------


def _payload(event_id: str, event_type: str, project, data: dict) -> dict:
    return {
        "id": event_id,
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "project": {"id": project.pk, "slug": project.slug, "name": project.name},
        "data": data,
    }


def _enqueue(delivery: WebhookDelivery, countdown: float | None = None) -> None:
    from webhooks import tasks  # the task module imports this one

    task_enqueue(task=tasks.webhook_delivery_send, args=[delivery.pk], countdown=countdown,
                 require_broker=False)  # fmt: skip


def webhook_endpoints_subscribed(*, project, event_type: str) -> list[WebhookEndpoint]:
    return [
        endpoint for endpoint in WebhookEndpoint.objects.filter(project=project, active=True)
        if event_type in endpoint.events
    ]  # fmt: skip


@transaction.atomic
def webhook_event_emit(
    *, project, event_type: str, data: dict, endpoints: list[WebhookEndpoint] | None = None
) -> list[WebhookDelivery]:
    """One delivery per active endpoint of ``project`` subscribed to ``event_type`` (or per
    endpoint of ``endpoints``, already chosen), sent after the caller's transaction commits
    (call it inside the transaction of the change)."""
    if project is None:
        return []
    if endpoints is None:
        endpoints = webhook_endpoints_subscribed(project=project, event_type=event_type)
    targets = endpoints
    if not targets:
        return []
    event_id = str(uuid.uuid4())
    payload = _payload(event_id, event_type, project, data)
    created = []
    for endpoint in targets:
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id=event_id, event_type=event_type, payload=payload,
            next_attempt_at=timezone.now(),
        )  # fmt: skip
        _enqueue(delivery)
        created.append(delivery)
    return created


def _api_path(name: str, pk: int) -> str:
    from django.urls import reverse

    return reverse(name, args=[pk])


def webhook_snapshot_emit(*, snapshot) -> list[WebhookDelivery]:
    """snapshot.ready or snapshot.failed, from the snapshot's row as it is now."""
    ready = snapshot.status == "ready"
    data = {
        "snapshot": {
            "id": snapshot.pk, "format": snapshot.format, "status": snapshot.status,
            "sha256": snapshot.sha256 or None, "rows": (snapshot.row_counts or {}).get("rows"),
            "size_bytes": snapshot.size_bytes, "error": snapshot.error or "",
            "url": _api_path("api:snapshot-detail", snapshot.pk),
            "download_url": _api_path("api:snapshot-download", snapshot.pk) if ready else None,
        }
    }  # fmt: skip
    event = events.SNAPSHOT_READY if ready else events.SNAPSHOT_FAILED
    return webhook_event_emit(project=snapshot.project, event_type=event, data=data)


RUN_EVENTS = {
    "succeeded": events.RUN_SUCCEEDED, "failed": events.RUN_FAILED,
    "cancelled": events.RUN_CANCELLED,
}  # fmt: skip


def webhook_run_emit(*, run) -> list[WebhookDelivery]:
    """training_run.succeeded / failed / cancelled for a run that just finished."""
    event = RUN_EVENTS.get(run.status)
    if event is None:
        return []
    project = run.snapshot.project if run.snapshot_id else run.prompt_project
    data = {
        "training_run": {
            "id": run.pk, "kind": run.kind, "name": run.name, "status": run.status,
            "base_model": run.base_model, "snapshot": run.snapshot_id,
            "reward_model": run.reward_model_id, "error": run.error or "",
            "metrics": (run.result or {}).get("metrics"),
            "url": _api_path("api:training-run-detail", run.pk),
        }
    }  # fmt: skip
    return webhook_event_emit(project=project, event_type=event, data=data)


def webhook_model_emit(*, model, kind: str, project) -> list[WebhookDelivery]:
    """model.registered: ``kind`` is "reward_model" or "policy"."""
    url_name = "api:reward-model-detail" if kind == "reward_model" else "api:policy-detail"
    data = {
        "model": {
            "id": model.pk, "kind": kind, "name": model.name, "base_model": model.base_model,
            "training_run": model.training_run_id, "metrics": model.metrics,
            "url": _api_path(url_name, model.pk),
        }
    }  # fmt: skip
    return webhook_event_emit(project=project, event_type=events.MODEL_REGISTERED, data=data)


def webhook_import_emit(*, job) -> list[WebhookDelivery]:
    """import.finished for an import job that succeeded or failed."""
    data = {
        "import": {
            "id": job.pk, "status": job.status, "file_name": job.file_name,
            "prompts_created": job.prompts_created, "error_count": job.error_count,
            "url": f"/api/v1/projects/{job.project.slug}/imports/{job.pk}/",
        }
    }  # fmt: skip
    return webhook_event_emit(project=job.project, event_type=events.IMPORT_FINISHED, data=data)


@transaction.atomic
def webhook_ping(*, endpoint: WebhookEndpoint, user=None) -> WebhookDelivery:
    """A ``ping`` event to this endpoint alone, to try a receiver (and its signature check)."""
    event_id = str(uuid.uuid4())
    who = user.get_username() if user is not None and user.is_authenticated else None
    payload = _payload(event_id, events.PING, endpoint.project, {"webhook": endpoint.pk,
                                                                  "by": who})  # fmt: skip
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=event_id, event_type=events.PING, payload=payload,
        next_attempt_at=timezone.now(),
    )  # fmt: skip
    _enqueue(delivery)
    return delivery


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery, user=None) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery (the log keeps both): same event id
    and payload, so a receiver that dedupes on ``id`` sees a repeat, not a new event."""
    replay = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint, event_id=delivery.event_id, event_type=delivery.event_type,
        payload=delivery.payload, replay_of=delivery, next_attempt_at=timezone.now(),
    )  # fmt: skip
    audit_event_record(
        action="webhook.replay", obj=delivery.endpoint, project=delivery.endpoint.project,
        actor=user, after={"delivery": delivery.pk, "replay": replay.pk,
                           "event": delivery.event_type},
    )  # fmt: skip
    _enqueue(replay)
    return replay


# --- sending -------------------------------------------------------------------------------


def backoff_seconds(*, attempts: int) -> float:
    """Wait before attempt ``attempts + 1``: the base doubled per attempt made, capped."""
    base = float(_setting("WEBHOOKS_BACKOFF_SECONDS", 10.0))
    cap = float(_setting("WEBHOOKS_BACKOFF_MAX_SECONDS", 3600.0))
    return min(cap, base * 2 ** max(0, attempts - 1))


def delivery_body(*, delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def _claim(delivery_id: int, now) -> WebhookDelivery | None:
    """Take the delivery for one attempt if it is due; its ``next_attempt_at`` becomes a lease
    so that a second message for it (a sweep, a redelivery) skips while this one sends."""
    timeout = float(_setting("WEBHOOKS_TIMEOUT_SECONDS", 5.0))
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update().select_related("endpoint__project")
            .filter(pk=delivery_id, status__in=[WebhookDelivery.Status.PENDING,
                                                WebhookDelivery.Status.RETRYING])
            .first()
        )  # fmt: skip
        if delivery is None:
            return None
        # A second early message is skipped; one second of slack for clocks and countdowns.
        if delivery.next_attempt_at and delivery.next_attempt_at > now + timedelta(seconds=1):
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + timedelta(seconds=timeout * 2 + 5)
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        return delivery


def webhook_delivery_attempt(*, delivery_id: int, now=None) -> str:
    """Make one attempt at a due delivery; record it; schedule the next or give up.

    Returns SENT, RETRY, GAVE_UP or SKIPPED. ``now`` is for tests that step through the
    backoff without waiting for it.
    """
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return SKIPPED
    endpoint = delivery.endpoint
    body = delivery_body(delivery=delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Rankwise-Event": delivery.event_type,
        "X-Rankwise-Delivery": str(delivery.pk),
        "X-Rankwise-Event-Id": str(delivery.event_id),
        signing.HEADER: signing.signature_header(endpoint.secret, body),
    }
    if endpoint.active:
        result = transport.post(endpoint.url, body, headers,
                                timeout=float(_setting("WEBHOOKS_TIMEOUT_SECONDS", 5.0)))  # fmt: skip
    else:
        result = transport.PostResult(None, "", 0, "the webhook is inactive")
    with transaction.atomic():
        delivery.response_code = result.status
        delivery.response_body = result.body
        delivery.latency_ms = result.latency_ms
        delivery.error = result.error or ("" if result.ok else f"HTTP {result.status}")
        if result.ok:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            outcome = SENT
        elif (
            delivery.attempts >= int(_setting("WEBHOOKS_MAX_ATTEMPTS", 8))
            or not endpoint.active or result.error.startswith("refused")
        ):  # fmt: skip
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
            outcome = GAVE_UP
        else:
            wait = backoff_seconds(attempts=delivery.attempts)
            delivery.status = WebhookDelivery.Status.RETRYING
            delivery.next_attempt_at = now + timedelta(seconds=wait)
            _enqueue(delivery, countdown=wait)
            outcome = RETRY
        delivery.save()
    return outcome


def webhook_deliveries_sweep(*, now=None) -> list[int]:
    """Queue again every delivery whose next attempt is overdue by the outbox's grace: its
    message was lost with a worker (killed mid-send) or never sent. Duplicates are harmless:
    the claim lets one attempt through."""
    now = now or timezone.now()
    grace = timedelta(seconds=float(_setting("TASK_OUTBOX_GRACE_SECONDS", 30.0)))
    overdue = WebhookDelivery.objects.filter(
        Q(status=WebhookDelivery.Status.PENDING) | Q(status=WebhookDelivery.Status.RETRYING),
        next_attempt_at__lt=now - grace,
    ).order_by("id")
    ids = list(overdue.values_list("pk", flat=True)[:1000])
    with transaction.atomic():
        # Due now, not overdue: a receiver down for hours gets one message per grace period.
        WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now)
        for delivery in WebhookDelivery.objects.filter(pk__in=ids):
            _enqueue(delivery)
    return ids

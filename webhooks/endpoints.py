"""Registering, changing and removing a project's webhook endpoints (the audit log records
each change, never the secret)."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.services import audit_event_record
from webhooks import events, transport
from webhooks.models import WebhookEndpoint


def _url_clean(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": ["is required"]})
    if len(url) > 2000:
        raise ValidationError({"url": ["at most 2000 characters"]})
    try:
        transport.target_resolve(url)
    except transport.TargetRefused as exc:
        raise ValidationError({"url": [str(exc)]}) from exc
    return url


def _events_clean(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValidationError({"events": ["give a non-empty list of event types"]})
    unknown = [e for e in value if e not in events.EVENT_TYPES]
    if unknown:
        raise ValidationError(
            {"events": [f"unknown event type {unknown[0]!r}; one of "
                        f"{', '.join(sorted(events.EVENT_TYPES))}"]}
        )  # fmt: skip
    return sorted(set(value))


def _secret_clean(value: str | None) -> str:
    if not value:
        return secrets.token_urlsafe(32)
    if len(value) < 16 or len(value) > 200:
        raise ValidationError({"secret": ["between 16 and 200 characters (or leave it out)"]})
    return value


def _audit(action: str, endpoint: WebhookEndpoint, user, before=None, after=None) -> None:
    audit_event_record(action=action, obj=endpoint, project=endpoint.project, actor=user,
                       before=before, after=after)  # fmt: skip


def _public(endpoint: WebhookEndpoint) -> dict:
    # The secret never goes to the audit log.
    return {"url": endpoint.url, "events": endpoint.events, "active": endpoint.active,
            "description": endpoint.description, "agreement_metric": endpoint.agreement_metric,
            "agreement_threshold": endpoint.agreement_threshold}  # fmt: skip


def _agreement_clean(endpoint: WebhookEndpoint) -> None:
    metrics = dict(WebhookEndpoint._meta.get_field("agreement_metric").choices)
    if endpoint.agreement_metric not in metrics:
        raise ValidationError({"agreement_metric": [f"one of {', '.join(metrics)}"]})
    t = endpoint.agreement_threshold
    if t is not None and (
        isinstance(t, bool) or not isinstance(t, (int, float)) or not -1 <= t <= 1
    ):
        raise ValidationError({"agreement_threshold": ["a number from -1 to 1"]})
    if events.AGREEMENT_BELOW in endpoint.events and t is None:
        raise ValidationError(
            {"agreement_threshold": [f"required to receive {events.AGREEMENT_BELOW}"]}
        )


def webhook_endpoint_check(
    *, url: str | None, events: Any, agreement_metric: str, agreement_threshold: float | None
) -> None:
    """Raise the ValidationError a create with these values would (forms call it first)."""
    _url_clean(url or "")
    endpoint = WebhookEndpoint(events=_events_clean(events), agreement_metric=agreement_metric,
                               agreement_threshold=agreement_threshold)  # fmt: skip
    _agreement_clean(endpoint)


@transaction.atomic
def webhook_endpoint_create(
    *, project, url: str, events: list[str], secret: str | None = None, description: str = "",
    active: bool = True, agreement_metric: str = "pairwise_agreement",
    agreement_threshold: float | None = None, user=None,
) -> WebhookEndpoint:  # fmt: skip
    """Register ``url`` for ``events`` of ``project``; the secret is generated when not given."""
    endpoint = WebhookEndpoint(
        project=project, url=_url_clean(url), events=_events_clean(events),
        secret=_secret_clean(secret), description=description or "", active=active,
        agreement_metric=agreement_metric, agreement_threshold=agreement_threshold,
        created_by=user if user is not None and user.is_authenticated else None,
    )  # fmt: skip
    _agreement_clean(endpoint)
    endpoint.save()
    _audit("webhook.create", endpoint, user, after=_public(endpoint))
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, user=None, **changes) -> WebhookEndpoint:
    """Change any of url, events, secret, description, active and the agreement condition."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = _public(endpoint)
    allowed = {"url", "events", "secret", "description", "active", "agreement_metric",
               "agreement_threshold"}  # fmt: skip
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError({unknown[0]: ["unknown field"]})
    if "url" in changes:
        endpoint.url = _url_clean(changes["url"])
    if "events" in changes:
        endpoint.events = _events_clean(changes["events"])
    if "secret" in changes:
        endpoint.secret = _secret_clean(changes["secret"])
    if "description" in changes:
        endpoint.description = changes["description"] or ""
    if "active" in changes:
        endpoint.active = bool(changes["active"])
    for key in ("agreement_metric", "agreement_threshold"):
        if key in changes:
            setattr(endpoint, key, changes[key])
    _agreement_clean(endpoint)
    endpoint.save()
    after = _public(endpoint)
    if "secret" in changes:
        after["secret"] = "rotated"
    _audit("webhook.update", endpoint, user, before=before, after=after)
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, user=None) -> None:
    _audit("webhook.delete", endpoint, user, before=_public(endpoint))
    endpoint.delete()


# --- emitting ----------------------------------------------------------------------------------

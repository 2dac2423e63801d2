"""Webhooks and their deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rankwise_client.types.base import ApiObject


@dataclass(kw_only=True)
class Webhook(ApiObject):
    id: int | None = None
    project: str = ""
    url: str = ""
    events: list[str] = field(default_factory=list)
    active: bool = True
    description: str = ""
    agreement_metric: str = "pairwise_agreement"
    agreement_threshold: float | None = None
    secret_hint: str = ""
    secret: str = ""  # only in the answer to a create
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def deliveries(self, status: str | None = None):
        return self.client.webhooks.deliveries(self.project, self, status=status)


@dataclass(kw_only=True)
class WebhookDelivery(ApiObject):
    id: int | None = None
    endpoint: int | None = None
    event_id: str = ""
    event_type: str = ""
    status: str = ""
    attempts: int = 0
    response_code: int | None = None
    response_body: str = ""
    latency_ms: int | None = None
    error: str = ""
    next_attempt_at: datetime | None = None
    replay_of: int | None = None
    created_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    payload: dict = field(default_factory=dict)

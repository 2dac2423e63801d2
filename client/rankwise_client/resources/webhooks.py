"""``client.webhooks``: a project's webhook endpoints, their delivery log, replays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rankwise_client.resources.base import Resource, object_id, project_slug
from rankwise_client.types.webhooks import Webhook, WebhookDelivery


class Webhooks(Resource):
    def _base(self, project) -> str:
        return f"projects/{project_slug(project)}/webhooks/"

    def create(self, project, url: str, events: list[str], *, secret: str | None = None,
               description: str = "", active: bool = True,
               agreement_threshold: float | None = None,
               agreement_metric: str | None = None) -> Webhook:  # fmt: skip
        """Register ``url`` for ``events`` (``snapshot.ready``, ``training_run.succeeded``,
        ``queue.empty``, ``agreement.below_threshold`` with ``agreement_threshold``...).
        The answer's ``.secret`` (generated unless given) is shown this once: keep it to
        verify signatures (``rankwise_client.webhooks.signature_verify``)."""
        body: dict[str, Any] = {"url": url, "events": list(events), "description": description,
                                "active": active}  # fmt: skip
        if secret:
            body["secret"] = secret
        if agreement_threshold is not None:
            body["agreement_threshold"] = agreement_threshold
        if agreement_metric:
            body["agreement_metric"] = agreement_metric
        return Webhook.from_api(self._http.call("POST", self._base(project), json=body),
                                self._client)  # fmt: skip

    def list(self, project) -> list[Webhook]:
        return [Webhook.from_api(w, self._client) for w in self._http.get(self._base(project))]

    def get(self, project, webhook) -> Webhook:
        data = self._http.get(f"{self._base(project)}{object_id(webhook, 'webhook')}/")
        return Webhook.from_api(data, self._client)

    def update(self, project, webhook, **changes: Any) -> Webhook:
        """Change url, events, secret, description, active, agreement_metric or
        agreement_threshold."""
        data = self._http.call("PATCH", f"{self._base(project)}{object_id(webhook, 'webhook')}/",
                               json=changes, idempotent=True)  # fmt: skip
        return Webhook.from_api(data, self._client)

    def delete(self, project, webhook) -> None:
        self._http.call("DELETE", f"{self._base(project)}{object_id(webhook, 'webhook')}/")

    def ping(self, project, webhook) -> WebhookDelivery:
        """Queue a ``ping`` event to this webhook (to try a receiver)."""
        data = self._http.call("POST",
                               f"{self._base(project)}{object_id(webhook, 'webhook')}/ping/")  # fmt: skip
        return WebhookDelivery.from_api(data, self._client)

    def deliveries(
        self, project, webhook, *, status: str | None = None
    ) -> Iterator[WebhookDelivery]:
        """The delivery log, newest first, every page; ``status``: pending, retrying,
        succeeded or failed."""
        path = f"{self._base(project)}{object_id(webhook, 'webhook')}/deliveries/"
        for item in self._http.paginate(path, {"status": status}):
            yield WebhookDelivery.from_api(item, self._client)

    def replay(self, project, webhook, delivery) -> WebhookDelivery:
        """Send a delivery's event again: a new delivery with the same event id. Not retried
        (each call sends once more)."""
        path = (f"{self._base(project)}{object_id(webhook, 'webhook')}/deliveries/"
                f"{object_id(delivery, 'delivery')}/replay/")  # fmt: skip
        return WebhookDelivery.from_api(self._http.call("POST", path), self._client)

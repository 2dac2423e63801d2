"""The webhooks endpoints' rows of the permission matrix (appended by
tests/api/permission_matrix.py): a project's admins and ML engineers; everything is under the
project's URL, so a member of another project gets 404 whatever the role."""

from __future__ import annotations

from tests.api.conftest import MARKER
from tests.api.permission_matrix import Endpoint, url

ML = frozenset({"ml_engineer"})
W = "/api/v1/projects/{w.project.slug}/webhooks/"


def webhook(world):
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    if not hasattr(world, "_webhook"):
        endpoint = WebhookEndpoint.objects.create(
            project=world.project, url="http://127.0.0.1:9/hook", secret="s" * 32,
            events=["snapshot.ready"], description=f"hook {MARKER}",
        )  # fmt: skip
        world._webhook = endpoint
        world._delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_type="snapshot.ready", payload={"marker": MARKER},
            status="failed", attempts=8,
        )  # fmt: skip
    return world._webhook


def wurl(suffix: str):
    def build(world):
        hook = webhook(world)
        return W.format(w=world) + suffix.format(hook=hook, delivery=world._delivery)

    return build


WEBHOOK_ENDPOINTS = [
    Endpoint("webhook list", "get", wurl(""), ML),
    Endpoint("webhook create", "post", url(W), ML, ok=201,
             body=lambda w: {"url": "http://127.0.0.1:9/new", "events": ["snapshot.ready"]}),
    Endpoint("webhook detail", "get", wurl("{hook.pk}/"), ML),
    Endpoint("webhook update", "patch", wurl("{hook.pk}/"), ML,
             body=lambda w: {"description": "changed"}),
    Endpoint("webhook ping", "post", wurl("{hook.pk}/ping/"), ML, ok=202),
    Endpoint("webhook deliveries", "get", wurl("{hook.pk}/deliveries/"), ML),
    Endpoint("webhook replay", "post", wurl("{hook.pk}/deliveries/{delivery.pk}/replay/"), ML,
             ok=202),
    Endpoint("webhook delete", "delete", wurl("{hook.pk}/"), ML, ok=204),
]  # fmt: skip

"""A webhooks worker killed (SIGKILL) while it waits on a receiver: the delivery is not lost.

The attempt's claim left a lease on the row; once it is over, the sweep (beat's job) queues
the delivery again and a second worker delivers it. The receiver sees the event twice (it
answered the first request to a dead worker): at least once, with one event id to dedupe on.
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from tests.core.ops.helpers import celery_broker
from tests.factories import ProjectFactory
from tests.faults.conftest import services_or_skip, worker_env
from tests.faults.procs import Worker, wait_until
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PORT = 18290  # this helper's loopback range


def test_a_delivery_survives_its_worker_being_killed(start_redis, workers, tmp_path, settings):
    services_or_skip(postgres=True)
    settings.TASK_OUTBOX_GRACE_SECONDS = 1
    redis = start_redis(PORT)
    receiver = Receiver(secret="s" * 32, delay_first=60)
    env = worker_env(redis.url, tmp_path / "artifacts", WEBHOOKS_ALLOW_PRIVATE_TARGETS="1",
                     WEBHOOKS_TIMEOUT_SECONDS="3")  # fmt: skip
    first = Worker("hooks-1", env, tmp_path, queues="webhooks")
    workers.append(first.start())
    try:
        project = ProjectFactory(slug="hooked")
        hook = services.webhook_endpoint_create(project=project, url=receiver.url(),
                                                secret="s" * 32, events=["snapshot.ready"])  # fmt: skip
        with celery_broker(redis.url):
            with transaction.atomic():
                (delivery,) = services.webhook_event_emit(
                    project=project, event_type="snapshot.ready", data={"snapshot": {"id": 1}}
                )
            wait_until(lambda: receiver.requests, 30, "the first attempt", [first.log])
            first.kill()  # while the receiver holds the answer back
            delivery.refresh_from_db()
            assert (delivery.status, delivery.attempts) == ("pending", 1)

            second = Worker("hooks-2", env, tmp_path, queues="webhooks")
            workers.append(second.start())

            def delivered():
                services.webhook_deliveries_sweep()  # what beat runs every minute
                delivery.refresh_from_db()
                return delivery.status == "succeeded"

            wait_until(delivered, 60, "the sweep and the second worker", [second.log])
    finally:
        receiver.close()

    assert delivery.attempts == 2 and delivery.response_code == 200
    assert WebhookDelivery.objects.filter(endpoint=hook).count() == 1
    ids = {json.loads(r["body"])["id"] for r in receiver.requests}
    assert len(receiver.requests) == 2 and ids == {str(delivery.event_id)}
    assert all(r["signed"] for r in receiver.requests)

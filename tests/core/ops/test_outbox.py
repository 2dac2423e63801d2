"""The dispatch helper and its outbox: an acknowledged request is never lost with a message.

A broker that took the check but failed the send (it went away between the two) leaves the
row and its outbox message; the sweep sends it when the broker is back. A message lost by the
broker after it was sent (a Redis restarted without persistence) is sent again once its queue
is empty; one that still waits its turn in a busy queue is left alone.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from core import dispatch
from core.maintenance import outbox_sweep
from core.models import OutboxMessage
from exports.models import DatasetSnapshot
from exports.services import snapshot_create
from tests.core.ops.helpers import celery_broker
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

MEMORY = "memory://"


@pytest.fixture
def memory_broker():
    """A broker in this process: connects, takes messages, and can lose them on demand."""
    with celery_broker(MEMORY) as app:
        with app.connection_for_write() as conn:
            for queue in ("default", "gpu"):
                conn.default_channel.queue_purge(queue)
        yield app


def waiting(app, queue="default") -> int:
    with app.connection_for_read() as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True).message_count


def later(seconds=3600):
    return timezone.now() + timedelta(seconds=seconds)


@pytest.fixture
def project(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path
    return ProjectFactory()


def test_a_send_that_fails_after_the_check_is_acknowledged_and_sent_by_the_sweep(
    memory_broker, project, monkeypatch, django_capture_on_commit_callbacks
):
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    client = APIClient()
    client.force_authenticate(admin)
    real_send = dispatch.task_send

    def broker_gone(**kwargs):
        raise ConnectionError("broker went away after the check")

    monkeypatch.setattr(dispatch, "task_send", broker_gone)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/snapshots/", {"project": project.slug, "format": "pairwise"}
        )
    assert response.status_code == 202, response.content  # stored, and it will be built
    snapshot = DatasetSnapshot.objects.get()
    message = OutboxMessage.objects.get()
    assert message.task_name == "exports.snapshot_build" and message.args == [snapshot.pk]
    assert message.sent_at is None and "went away" in message.last_error
    assert waiting(memory_broker) == 0

    monkeypatch.setattr(dispatch, "task_send", real_send)
    assert outbox_sweep()["sent"] == 0  # within the grace period: maybe still on its way
    assert outbox_sweep(now=later())["sent"] == 1
    assert waiting(memory_broker) == 1
    message.refresh_from_db()
    assert message.sent_at is not None and message.sends == 1

    # A worker starting the task ends the outbox row.
    dispatch.outbox_message_started(task_id=message.task_id)
    assert not OutboxMessage.objects.exists()


def test_a_message_the_broker_lost_is_sent_again_once_its_queue_is_empty(
    memory_broker, project, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        snapshot_create(project=project, fmt="rankings")
    message = OutboxMessage.objects.get()
    assert message.sent_at is not None and waiting(memory_broker) == 1
    # Still queued behind other work: no copy.
    assert outbox_sweep(now=later()) == {"sent": 0, "resent": 0, "waiting": 1, "failed": 0}
    assert waiting(memory_broker) == 1
    # The broker restarts empty: the message is gone, the row is not.
    with memory_broker.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    assert outbox_sweep(now=later())["resent"] == 1
    assert waiting(memory_broker) == 1
    assert OutboxMessage.objects.get().sends == 2


def test_the_sweep_waits_while_the_broker_is_down(project, closed_redis_url, settings):
    with transaction.atomic():
        snapshot = DatasetSnapshot.objects.create(project=project, format="rankings", settings={})
        OutboxMessage.objects.create(
            task_name="exports.snapshot_build", task_id="t-1", args=[snapshot.pk],
            queue="default", not_before=timezone.now(),
        )  # fmt: skip
    with celery_broker(closed_redis_url):
        assert outbox_sweep(now=later())["failed"] == 1
    assert OutboxMessage.objects.get().sends == 0


@pytest.mark.django_db(transaction=True)
def test_a_durable_message_must_commit_with_its_row(memory_broker):
    from exports.tasks import snapshot_build_task

    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        dispatch.task_enqueue(task=snapshot_build_task, args=[1])


def test_eager_tasks_clear_their_outbox_row(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        snapshot = snapshot_create(project=project, fmt="rankings")
    assert OutboxMessage.objects.filter(args=[snapshot.pk]).exists()
    for callback in queued:
        callback()  # tasks are eager in tests: the build runs here
    snapshot.refresh_from_db()
    assert snapshot.status == "ready"
    assert not OutboxMessage.objects.exists()


def test_routed_tasks_record_their_queue():
    assert dispatch.task_queue_name("training.training_run_execute") == "gpu"
    assert dispatch.task_queue_name("exports.snapshot_build") == "default"


def test_a_best_effort_send_to_a_dead_broker_gives_up_at_once(closed_redis_url):
    """The consensus flush is sent from inside the submit request: with the broker gone,
    kombu used to retry the connection until its 4 s timeout (submit p99 6.2 s during the
    load-and-fault bench's Redis outage). One refused attempt must be the end of it."""
    from agreement.tasks import project_consensus_flush_task

    lost = []
    with celery_broker(closed_redis_url):
        started = time.monotonic()
        dispatch.task_enqueue(
            task=project_consensus_flush_task, args=[1], require_broker=False, durable=False,
            on_lost=lambda: lost.append(1),
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert lost == [1]
    assert elapsed < 2.0, f"{elapsed:.1f} s"

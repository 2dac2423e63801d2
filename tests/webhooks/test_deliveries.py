"""Webhook deliveries against a real HTTP receiver on loopback: signed, retried with backoff
after 500s, logged, replayed; emitted from the services where state changes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import OutboxMessage
from tests.factories import ProjectFactory
from tests.training.helpers import snapshot_make
from training.models import TrainingRun
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.signing import signature_header, signature_verify

pytestmark = pytest.mark.django_db

SECRET = "a-long-enough-test-secret"


@pytest.fixture
def project():
    return ProjectFactory()


@pytest.fixture
def hook(project, receiver):
    receiver.secret = SECRET
    return services.webhook_endpoint_create(
        project=project, url=receiver.url(), secret=SECRET,
        events=["snapshot.ready", "training_run.cancelled"],
    )  # fmt: skip


def test_a_signature_verifies_only_with_its_secret_body_and_a_fresh_timestamp():
    body = b'{"a":1}'
    header = signature_header("k" * 20, body, timestamp=1_000_000)
    assert signature_verify("k" * 20, header, body, now=1_000_100)
    assert not signature_verify("k" * 20, header, b'{"a":2}', now=1_000_100)
    assert not signature_verify("x" * 20, header, body, now=1_000_100)
    assert not signature_verify("k" * 20, header, body, now=1_000_000 + 301)  # replayed late
    assert not signature_verify("k" * 20, "garbage", body)


def test_retried_with_backoff_after_500s_then_delivered(hook, receiver, settings):
    settings.WEBHOOKS_BACKOFF_SECONDS = 10
    receiver.statuses = [500, 503]
    (delivery,) = services.webhook_event_emit(
        project=hook.project, event_type="snapshot.ready", data={"snapshot": {"id": 7}}
    )
    now = timezone.now()
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk, now=now) == services.RETRY
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("retrying", 1, 500)
    assert delivery.next_attempt_at == now + timedelta(seconds=10)
    # An early duplicate message (a sweep, a redelivery) does not jump the backoff.
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk, now=now) == services.SKIPPED
    now = delivery.next_attempt_at
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk, now=now) == services.RETRY
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(seconds=20)  # doubled
    now = delivery.next_attempt_at
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk, now=now) == services.SENT
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
    assert delivery.delivered_at and delivery.next_attempt_at is None
    assert delivery.latency_ms is not None and delivery.response_body == "answered 200"
    # Three real requests, each signed, each the same event.
    assert len(receiver.requests) == 3 and all(r["signed"] for r in receiver.requests)
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert {b["id"] for b in bodies} == {str(delivery.event_id)}
    assert bodies[0]["type"] == "snapshot.ready" and bodies[0]["data"] == {"snapshot": {"id": 7}}
    assert bodies[0]["project"]["slug"] == hook.project.slug
    headers = receiver.requests[0]["headers"]
    assert headers["x-rankwise-event"] == "snapshot.ready"
    assert headers["x-rankwise-delivery"] == str(delivery.pk)
    # Each retry went through the outbox with its countdown: a broker outage cannot drop it.
    retries = OutboxMessage.objects.filter(task_name="webhooks.delivery_send", args=[delivery.pk])
    assert retries.count() == 3  # the first send and two retries


def test_gives_up_after_max_attempts(hook, receiver, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    receiver.statuses = [500, 500, 500]
    (delivery,) = services.webhook_event_emit(project=hook.project, event_type="snapshot.ready",
                                              data={})  # fmt: skip
    now = timezone.now()
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk, now=now) == services.RETRY
    later = now + timedelta(hours=1)
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk, now=later) == services.GAVE_UP
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2 and delivery.error == "HTTP 500"
    assert len(receiver.requests) == 2


def test_an_unreachable_receiver_is_a_failed_attempt_with_the_reason(project, receiver):
    url = receiver.url()
    receiver.close()  # nothing listens there any more
    hook = services.webhook_endpoint_create(project=project, url=url, events=["snapshot.ready"])
    (delivery,) = services.webhook_event_emit(project=project, event_type="snapshot.ready",
                                              data={})  # fmt: skip
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == services.RETRY
    delivery.refresh_from_db()
    assert delivery.response_code is None and "Connection" in delivery.error
    assert hook.deliveries.count() == 1


def test_replay_sends_the_same_event_again_as_a_new_delivery(hook, receiver):
    (delivery,) = services.webhook_event_emit(project=hook.project, event_type="snapshot.ready",
                                              data={"n": 1})  # fmt: skip
    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    replay = services.webhook_delivery_replay(delivery=delivery)
    assert services.webhook_delivery_attempt(delivery_id=replay.pk) == services.SENT
    replay.refresh_from_db()
    assert replay.replay_of_id == delivery.pk and str(replay.event_id) == str(delivery.event_id)
    assert replay.status == "succeeded"
    first, second = (json.loads(r["body"]) for r in receiver.requests)
    assert first == second and all(r["signed"] for r in receiver.requests)


def test_only_active_subscribed_endpoints_get_an_event(hook, project, receiver):
    services.webhook_endpoint_create(project=project, url=receiver.url("/other"),
                                     events=["model.registered"])  # fmt: skip
    services.webhook_endpoint_create(project=project, url=receiver.url("/off"),
                                     events=["snapshot.ready"], active=False)  # fmt: skip
    services.webhook_endpoint_create(project=ProjectFactory(), url=receiver.url("/elsewhere"),
                                     events=["snapshot.ready"])  # fmt: skip
    created = services.webhook_event_emit(project=project, event_type="snapshot.ready", data={})
    assert [d.endpoint_id for d in created] == [hook.pk]


def test_a_cancelled_run_reaches_the_receiver_once_its_transaction_commits(
    hook, receiver, django_capture_on_commit_callbacks
):
    run = TrainingRun.objects.create(
        kind="reward_model", snapshot=snapshot_make(project=hook.project), base_model="/m"
    )
    from training.services import training_run_cancel

    with django_capture_on_commit_callbacks(execute=True):
        training_run_cancel(run=run)
    (delivery,) = WebhookDelivery.objects.filter(endpoint=hook)
    assert delivery.status == "succeeded" and delivery.event_type == "training_run.cancelled"
    (request,) = receiver.requests
    payload = json.loads(request["body"])
    assert payload["data"]["training_run"]["id"] == run.pk
    assert payload["data"]["training_run"]["status"] == "cancelled"
    assert request["signed"]


def test_a_built_snapshot_emits_snapshot_ready(hook, receiver, django_capture_on_commit_callbacks):
    from exports.models import DatasetSnapshot
    from exports.services import snapshot_build

    snapshot = DatasetSnapshot.objects.create(project=hook.project, format="pairwise",
                                              settings={"seed": 0})  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        snapshot_build(snapshot=snapshot)
    snapshot.refresh_from_db()
    assert snapshot.status == "ready"
    (request,) = receiver.requests
    data = json.loads(request["body"])["data"]["snapshot"]
    assert data["id"] == snapshot.pk and data["sha256"] == snapshot.sha256
    assert data["download_url"] == f"/api/v1/snapshots/{snapshot.pk}/download/"


def test_the_sweep_requeues_a_delivery_whose_message_was_lost(hook, receiver):
    (delivery,) = services.webhook_event_emit(project=hook.project, event_type="snapshot.ready",
                                              data={})  # fmt: skip
    OutboxMessage.objects.all().delete()  # as if the worker died holding the only message
    assert services.webhook_deliveries_sweep() == []  # not overdue yet
    later = timezone.now() + timedelta(minutes=5)
    assert services.webhook_deliveries_sweep(now=later) == [delivery.pk]
    assert OutboxMessage.objects.filter(task_name="webhooks.delivery_send").count() == 1
    # Swept once per grace period, not once per beat: it is due now, no longer overdue.
    assert services.webhook_deliveries_sweep(now=later) == []
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk, now=later) == services.SENT


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/x", "http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data",
     "http://[::1]/x", "http://localhost/x", "http://192.168.0.10/x"],
)  # fmt: skip
def test_ssrf_guard_refuses_loopback_private_and_metadata_targets(project, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError) as refused:
        services.webhook_endpoint_create(project=project, url=url, events=["snapshot.ready"])
    assert "url" in refused.value.error_dict


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http://u:p@h/x",
                                 "not a url"])  # fmt: skip
def test_only_http_urls_without_credentials(project, url):
    with pytest.raises(ValidationError) as refused:
        services.webhook_endpoint_create(project=project, url=url, events=["snapshot.ready"])
    assert "url" in refused.value.error_dict


def test_the_guard_runs_again_at_delivery_time(hook, receiver, settings):
    """A hook saved while private targets were allowed (or a name that now resolves to a
    private address) is not posted to."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    (delivery,) = services.webhook_event_emit(project=hook.project, event_type="snapshot.ready",
                                              data={})  # fmt: skip
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == services.GAVE_UP
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.error.startswith("refused")
    assert receiver.requests == []


def test_events_must_be_known(project, receiver):
    with pytest.raises(ValidationError) as refused:
        services.webhook_endpoint_create(project=project, url=receiver.url(),
                                         events=["snapshot.readdy"])  # fmt: skip
    assert "snapshot.readdy" in str(refused.value.error_dict["events"])


def test_a_finished_import_job_is_announced(
    project, receiver, settings, tmp_path, django_capture_on_commit_callbacks
):
    """annotate publishes import_job.finished (core.events); webhooks turns it into a delivery."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    from core.roles import Roles
    from tests.factories import UserFactory

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RANKWISE_IMPORT_SYNC_MAX_BYTES = 10  # any file becomes a job
    services.webhook_endpoint_create(
        project=project, url=receiver.url(), secret=SECRET, events=["import.finished"]
    )
    api = APIClient()
    api.force_authenticate(UserFactory(roles=[Roles.ADMIN], is_staff=True, is_superuser=True))
    line = json.dumps({"id": "p1", "prompt": "Q?", "completions": ["a", "b"]}).encode() + b"\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/projects/{project.slug}/prompts/import/",
            {"file": SimpleUploadedFile("big.jsonl", line * 3), "format": "rankwise"},
            format="multipart",
        )
    assert response.status_code == 202
    (delivery,) = WebhookDelivery.objects.filter(event_type="import.finished")
    assert delivery.payload["data"]["import"]["status"] == "succeeded"

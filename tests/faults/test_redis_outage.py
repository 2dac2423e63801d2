"""The test's own Redis (cache, sessions, broker) stopped in the middle of work, then back.

During the outage annotators submit (acknowledged and stored), pages load, work that needs
the broker answers 503 and writes nothing, /healthz says which dependency is down. When Redis
returns (empty: it kept nothing), the snapshot whose message died with it is sent again by
the outbox sweep and built, and the consensus of what was submitted meanwhile is swept.
"""

from __future__ import annotations

import time

import pytest
from django.http import HttpResponse
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agreement.models import PendingConsensus, PromptConsensus
from annotate.models import Annotation, Prompt
from core.dispatch import task_send
from core.maintenance import outbox_sweep
from core.roles import Roles
from exports.models import DatasetSnapshot
from tests.core.ops.helpers import celery_broker
from tests.factories import ProjectFactory, PromptFactory, UserFactory, annotator
from tests.faults.conftest import services_or_skip, worker_env
from tests.faults.procs import Worker, wait_until
from training.models import GenerationJob

pytestmark = pytest.mark.faults

FORWARD = [["A"], ["B"], ["C"], ["D"]]


def cache_at(settings, url: str) -> None:
    """This process's cache and sessions on the test's Redis, with a test's short timeouts."""
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.FailSoftRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "faults",
            "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.CACHE_RETRY_SECONDS = 0.5


@pytest.mark.django_db(transaction=True)
def test_work_goes_on_through_a_redis_outage_and_resumes_after_it(
    start_redis, workers, tmp_path, settings
):
    services_or_skip(postgres=True)
    artifacts = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR = artifacts
    settings.TASK_OUTBOX_GRACE_SECONDS = 1
    redis = start_redis(16381)
    cache_at(settings, redis.url)
    env = worker_env(redis.url, artifacts, RANKWISE_FAULTS_FAKE_GENERATE_S="0")
    worker = Worker("default", env, tmp_path, pool="prefork", queues="default")
    workers.append(worker.start())

    project = ProjectFactory(slug="outage")
    prompts = [PromptFactory(project=project, k=4) for _ in range(8)]
    ann = annotator("a1", project)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ann).key}")
    admin = UserFactory(username="boss", roles=[Roles.ADMIN], is_staff=True, is_superuser=True)
    admin_api = APIClient()
    admin_api.force_authenticate(admin)
    reviewer = UserFactory(username="rev", roles=[Roles.REVIEWER])
    reviewer.save(update_fields=["password"])
    project.memberships.create(user=reviewer)
    page = Client()
    page.force_login(reviewer)
    model = tmp_path / "policy"
    model.mkdir()
    (model / "config.json").write_text("{}")
    acknowledged = []

    def submit() -> None:
        task = api.post(f"/api/v1/projects/{project.slug}/tasks/next/").json()
        url = f"/api/v1/projects/{project.slug}/tasks/{task['prompt_id']}/submit/"
        response = api.post(url, {"ranking": FORWARD}, format="json")
        assert response.status_code == 201, response.content
        acknowledged.append(response.json()["id"])

    def export() -> HttpResponse:
        return admin_api.post("/api/v1/snapshots/", {"project": project.slug, "format": "rankings"})

    with celery_broker(redis.url, {"socket_connect_timeout": 0.3}):
        for _ in range(3):
            submit()
        wait_until(lambda: not PendingConsensus.objects.exists(), 30, "the flush", [worker.log])
        # Waits in Redis's gpu queue (no GPU worker yet): the outage will take it along.
        response = admin_api.post("/api/v1/generations/", {
            "project": project.pk, "prompts": [{"id": "gen-1", "prompt": "hi"}], "k": 2,
            "model_path": str(model)}, format="json")  # fmt: skip
        assert response.status_code == 202, response.content
        job = GenerationJob.objects.get()
        # A message the worker holds for its countdown, as it holds every consensus flush.
        # Losing the broker with one ended the worker ("Unrecoverable error: AttributeError")
        # before config/celery.py.
        task_send(task_name="agreement.pending_consensus_sweep", countdown=60)
        wait_until(lambda: "agreement.pending_consensus_sweep[" in worker.log.read_text(),
                   30, "the worker to hold the countdown message", [worker.log])  # fmt: skip
        time.sleep(1)

        redis.stop()
        for _ in range(3):
            submit()
        assert page.get(f"/projects/{project.slug}/review/").status_code == 200
        refused = export()
        assert refused.status_code == 503 and refused.json()["error"] == "broker_unavailable"
        assert not DatasetSnapshot.objects.exists()  # the refused export left no row
        health = Client().get("/healthz")
        assert health.status_code == 503
        checks = health.json()["checks"]
        assert (checks["database"]["ok"], checks["cache"]["ok"], checks["broker"]["ok"]) == (
            True, False, False,
        )  # fmt: skip
        time.sleep(2)
        assert worker.proc.poll() is None, worker.log.read_text()[-4000:]

        redis.start()  # back, and empty
        time.sleep(1.1)  # past the outbox grace period
        assert outbox_sweep()["resent"] == 1  # the generation message lost with Redis
        workers.append(Worker("gpu", env, tmp_path, queues="gpu").start())
        task_send(task_name="agreement.pending_consensus_sweep")  # as beat does
        accepted = export()
        assert accepted.status_code == 202, accepted.content
        wait_until(
            lambda: DatasetSnapshot.objects.get().status == "ready"
            and GenerationJob.objects.get().status == "succeeded"
            and not PendingConsensus.objects.exists(),
            90, "the export, the lost generation and the consensus sweep", [worker.log],
        )  # fmt: skip
        assert Client().get("/healthz").status_code == 200

    assert worker.proc.poll() is None  # the same default worker, through the outage
    job.refresh_from_db()
    assert job.attempts == 1
    assert list(
        Prompt.objects.filter(external_id="gen-1").values_list("external_id", flat=True)
    ) == ["gen-1"]
    assert sorted(Annotation.objects.values_list("pk", flat=True)) == sorted(acknowledged)
    assert len(acknowledged) == 6
    judged = {p.pk for p in prompts if p.annotations.exists()}
    assert set(PromptConsensus.objects.values_list("prompt_id", flat=True)) == judged


@pytest.mark.django_db
def test_a_session_ended_during_an_outage_does_not_come_back_with_redis(
    start_redis, tmp_path, settings
):
    """Redis frozen (SIGSTOP: unreachable, data kept), a logout, Redis back: the session
    cached before the outage must not log the browser in again."""
    services_or_skip(postgres=False)
    redis = start_redis(16382)
    cache_at(settings, redis.url)
    project = ProjectFactory(slug="sessions")
    user = annotator("a1", project)
    browser = Client()
    browser.force_login(user)
    url = f"/projects/{project.slug}/"
    assert browser.get(url).status_code == 200  # the session is now cached in Redis
    cookie = browser.cookies["sessionid"].value

    redis.pause()
    browser.post("/accounts/logout/")  # deleted in the database; Redis cannot be told
    redis.resume()
    time.sleep(0.6)  # CACHE_RETRY_SECONDS: the next request tries Redis again

    stale = Client()
    stale.cookies["sessionid"] = cookie
    response = stale.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

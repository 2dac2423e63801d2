"""A Celery worker killed with SIGKILL in the middle of a snapshot build and a generation job.

Before: the snapshot stayed ``running`` (its message waits for the broker's seven-day
visibility timeout) with its temporary folder on disk, and a generation job stayed
``running`` for ever. Now both heartbeat; the reaper (sent through the broker as beat sends
it) re-queues them, the leftovers are removed, and a second worker finishes each once.
"""

from __future__ import annotations

import time

import pytest

from annotate.models import Prompt
from core.dispatch import task_send
from exports.models import DatasetSnapshot
from exports.services import snapshot_create, snapshot_verify, snapshots_root
from tests.core.ops.helpers import celery_broker
from tests.factories import ProjectFactory, PromptFactory, annotator
from tests.faults.conftest import services_or_skip, worker_env
from tests.faults.procs import Worker, wait_until
from tests.training.helpers import engineer
from training.services import generation_job_start

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PORT = 16380
PROMPTS = 40
FORWARD = [["A"], ["B"], ["C"], ["D"]]


def dot_folders(snapshot) -> list:
    return sorted(
        p.name for p in (snapshots_root() / snapshot.project.slug).glob(f"*{snapshot.pk:06d}-*")
    )


def test_a_killed_worker_leaves_nothing_running_and_nothing_twice(
    start_redis, workers, tmp_path, settings
):
    services_or_skip(postgres=True)
    artifacts = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR = artifacts
    redis = start_redis(PORT)
    slow = worker_env(redis.url, artifacts, RANKWISE_FAULTS_SLOW_EMIT_S="0.1",
                      RANKWISE_FAULTS_FAKE_GENERATE_S="30")  # fmt: skip
    first = Worker("first", slow, tmp_path)
    workers.append(first.start())

    project = ProjectFactory(slug="killed")
    user = annotator("a1", project)
    for _ in range(PROMPTS):
        PromptFactory(project=project, k=4).annotations.create(annotator=user, ranking=FORWARD)
    model = tmp_path / "policy"
    model.mkdir()
    (model / "config.json").write_text("{}")

    with celery_broker(redis.url):
        snapshot = snapshot_create(project=project, fmt="rankings")
        job = generation_job_start(
            user=engineer(project), project_id=project.pk, k=2, model_path=str(model),
            prompts=[{"id": "gen-1", "prompt": "hello"}, {"id": "gen-2", "prompt": "bye"}],
        )  # fmt: skip

        def both_at_work():
            snapshot.refresh_from_db()
            job.refresh_from_db()
            building = any(name.startswith(".") for name in dot_folders(snapshot))
            beating = snapshot.heartbeat_at and snapshot.heartbeat_at > snapshot.started_at
            return building and beating and job.status == "running"

        wait_until(both_at_work, 60, "the build and the generation to be under way", [first.log])
        first.kill()

        snapshot.refresh_from_db()
        job.refresh_from_db()
        # The state the issue found: running, with the temporary folder on disk.
        assert snapshot.status == "running" and job.status == "running"
        assert any(name.startswith(".") for name in dot_folders(snapshot))

        fast = worker_env(redis.url, artifacts, RANKWISE_FAULTS_FAKE_GENERATE_S="0")
        second = Worker("second", fast, tmp_path)
        workers.append(second.start())
        sent = []

        def reaped_and_done():
            # Beat's job, sent through the broker once a second; the reaper acts once the
            # heartbeats are TASK_STALE_SECONDS old.
            if not sent or time.monotonic() - sent[-1] > 1:
                task_send(task_name="core.tasks_reap_stale")
                sent.append(time.monotonic())
            snapshot.refresh_from_db()
            job.refresh_from_db()
            return snapshot.status == "ready" and job.status == "succeeded"

        wait_until(reaped_and_done, 90, "the reaper and the second worker", [second.log])

    assert snapshot.attempts == 2 and job.attempts == 2
    assert "no heartbeat since" in job.error  # the reason the first attempt ended
    # One folder, the one recorded; no temporary folder left; the content checks out.
    assert dot_folders(snapshot) == [snapshot.path.parent.name]
    assert snapshot.row_counts["prompts"] == PROMPTS
    assert snapshot_verify(snapshot=snapshot) == []
    assert DatasetSnapshot.objects.count() == 1
    # Generated prompts imported exactly once.
    assert sorted(Prompt.objects.filter(external_id__startswith="gen-").values_list(
        "external_id", flat=True)) == ["gen-1", "gen-2"]  # fmt: skip

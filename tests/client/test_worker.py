"""The whole path for real: the client against the live server, with a Celery worker thread
consuming the default and gpu queues on Redis (no eager shortcut). ``watch()`` sees the run's
points arrive while it trains, cancels it part-way and resumes it from its checkpoint."""

from __future__ import annotations

import pytest

from tests.training.helpers import RM_CONFIG

# Two threads (server, worker) writing the same rows at once: SQLite's shared in-memory test
# database locks whole tables, so this needs PostgreSQL as well as Redis.
pytestmark = [
    pytest.mark.redis, pytest.mark.postgres, pytest.mark.train,
    pytest.mark.django_db(transaction=True),
]  # fmt: skip


@pytest.fixture
def worker():
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, queues=["default", "gpu"], pool="solo", perform_ping_check=False,
                          shutdown_timeout=60):  # fmt: skip
            yield app
    finally:
        app.conf.task_always_eager = eager


def test_watch_cancel_resume_through_the_real_queue(rw, project, rankings_file, tiny_rm_base,
                                                    worker, settings):  # fmt: skip
    from rankwise_client import JobFailed, RewardModelConfig

    pytest.importorskip("torch")
    settings.RANKWISE_IMPORT_SYNC_MAX_BYTES = 500  # an import job: 202, the worker imports
    assert rw.projects.import_file("parrots", rankings_file, progress=False).prompts_created == 12
    assert next(rw.projects.import_jobs("parrots")).status == "succeeded"
    snapshot = rw.snapshots.create("parrots", format="rankings")
    assert snapshot.status == "pending"  # answered before the worker built it
    snapshot.wait(timeout=120, poll=0.1)

    config = RewardModelConfig(**{**RM_CONFIG, "max_steps": 400, "checkpoint_every": 2})
    run = rw.runs.start_reward_model(snapshot, tiny_rm_base, config)
    assert run.status == "queued"
    seen = []

    def cancel_once_training(point):
        seen.append(point.step)
        if len(seen) == 1:
            rw.runs.cancel(run)

    with pytest.raises(JobFailed) as caught:
        run.watch(poll=0.1, timeout=120, on_metric=cancel_once_training)
    stopped = caught.value.obj
    assert stopped.status == "cancelled" and 1 <= stopped.progress.step < 400
    assert seen == sorted(seen) and seen[0] >= 1
    assert stopped.last_checkpoint

    run.resume()
    assert run.status == "queued" and run.attempts == 1
    later = []
    run.watch(poll=0.1, timeout=180, progress=False, on_metric=lambda p: later.append(p.step))
    assert run.status == "succeeded" and run.attempts == 2 and run.progress.step == 400
    assert later[-1] == 400
    assert [p.step for p in run.metrics()] == list(range(1, 401))
    assert run.model().score("the cat", ["good", "bad"])

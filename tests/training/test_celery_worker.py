"""The queue path for real: a Celery worker thread consuming the gpu queue on Redis trains a
tiny reward model that a service queued, with no eager shortcut."""

import time

import pytest

from rewardmodel.models import RewardModel
from tests.factories import ProjectFactory
from tests.training.helpers import RM_CONFIG, engineer, snapshot_make
from training.models import TrainingRun
from training.services import training_run_start

pytestmark = [pytest.mark.redis, pytest.mark.train, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_queue():
    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = eager


def test_worker_on_the_gpu_queue_trains_and_registers(real_queue, tiny_rm_base):
    from celery.contrib.testing.worker import start_worker

    pytest.importorskip("torch")
    project = ProjectFactory()
    user = engineer(project)
    snapshot = snapshot_make(project)
    with start_worker(
        real_queue, queues=["gpu"], pool="solo", perform_ping_check=False, shutdown_timeout=60
    ):
        run = training_run_start(
            user=user, kind="reward_model", base_model=str(tiny_rm_base),
            snapshot_id=snapshot.pk, config=RM_CONFIG,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status not in TrainingRun.ACTIVE_STATUSES:
                break
            time.sleep(0.25)
    assert run.status == "succeeded", (run.status, run.error, run.log_tail)
    assert run.attempts == 1 and run.step == 6
    assert run.metric_points.count() == 6
    assert RewardModel.objects.filter(training_run=run).exists()

"""DatabaseCallbacks: what the worker writes, and when should_stop answers True."""

import math

import pytest

from tests.training.helpers import snapshot_make
from training.models import TrainingRun, TrainingSample
from training.progress import DatabaseCallbacks
from training.services import training_run_cancel

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    return TrainingRun.objects.create(
        kind="reward_model", snapshot=snapshot_make(), base_model="/m", status="running",
        attempts=1,
    )  # fmt: skip


def test_progress_writes_a_metric_point_step_eta_and_heartbeat(run):
    cb = DatabaseCallbacks(run, poll_seconds=0)
    cb.on_start(10, {"train_examples": 12})
    cb.on_log("hello")
    cb.on_progress(1, 10, {"loss": 0.7, "accuracy": 0.5, "nan": math.nan, "hist": [1, 2]})
    cb.on_progress(2, 10, {"loss": 0.6})
    run.refresh_from_db()
    assert (run.step, run.total_steps) == (2, 10)
    assert run.info == {"train_examples": 12}
    assert run.eta_seconds is not None and run.eta_seconds >= 0
    assert run.heartbeat_at is not None
    assert run.log_tail == "hello"  # buffered lines go out with the next write
    points = list(run.metric_points.values_list("step", "values"))
    # NaN and lists cannot be charted (and PostgreSQL's jsonb refuses NaN).
    assert points == [(1, {"loss": 0.7, "accuracy": 0.5}), (2, {"loss": 0.6})]


def test_checkpoints_and_eval_samples_are_recorded(run):
    cb = DatabaseCallbacks(run)
    cb.on_checkpoint(4, "/runs/1/checkpoints/step-4")
    cb.on_samples(
        4,
        [{"split": "eval", "prompt": "p", "response": "r", "score": 0.5, "length": 3,
          "ended_with_eos": True},
         {"split": "train", "prompt": "q", "response": "s", "score": 0.1}],
    )  # fmt: skip
    run.refresh_from_db()
    assert run.last_checkpoint == "/runs/1/checkpoints/step-4"
    assert "checkpoint at step 4" in run.log_tail
    assert list(run.samples.values_list("step", "prompt", "response", "score")) == [
        (4, "p", "r", 0.5)
    ]


def test_should_stop_follows_the_cancel_flag(run):
    cb = DatabaseCallbacks(run, poll_seconds=0)
    assert cb.should_stop() is False
    training_run_cancel(run=run)  # what POST .../cancel does
    assert cb.should_stop() is True
    assert cb.stop_reason() == "cancelled"


def test_should_stop_when_another_attempt_took_over(run):
    cb = DatabaseCallbacks(run, poll_seconds=0)
    TrainingRun.objects.filter(pk=run.pk).update(attempts=2)
    assert cb.should_stop() is True
    assert cb.stop_reason() == "superseded"
    cb.on_progress(5, 10, {"loss": 1.0})
    run.refresh_from_db()
    assert run.step == 0  # a superseded worker no longer writes the run's progress


def test_should_stop_reads_the_database_at_most_once_per_interval(run, django_assert_num_queries):
    cb = DatabaseCallbacks(run, poll_seconds=3600)
    with django_assert_num_queries(1):
        for _ in range(100):
            assert cb.should_stop() is False


def test_long_steps_still_heartbeat(run):
    cb = DatabaseCallbacks(run, poll_seconds=0, heartbeat_seconds=0)
    assert run.heartbeat_at is None
    cb.should_stop()
    run.refresh_from_db()
    assert run.heartbeat_at is not None


def test_a_resumed_attempt_drops_what_the_last_one_reported_after_its_checkpoint(run):
    first = DatabaseCallbacks(run, poll_seconds=0)
    first.on_start(10, {"start_step": 0})
    for step in range(7):  # checkpoint at 4, then cancelled after step 6
        first.on_progress(step, 10, {"score": float(step)})
        if step in (0, 4, 6):
            first.on_samples(
                step, [{"split": "eval", "prompt": "p", "response": "r", "score": 0.1}]
            )
    TrainingRun.objects.filter(pk=run.pk).update(attempts=2)
    run.refresh_from_db()

    DatabaseCallbacks(run, poll_seconds=0).on_start(10, {"start_step": 4})
    assert list(run.metric_points.values_list("step", flat=True)) == [0, 1, 2, 3, 4]
    assert sorted(TrainingSample.objects.filter(run=run).values_list("step", flat=True)) == [0, 4]

    # No checkpoint to resume from: the new attempt redoes everything, step 0 included.
    DatabaseCallbacks(run, poll_seconds=0).on_start(10, {"start_step": 0})
    assert not run.metric_points.exists() and not TrainingSample.objects.filter(run=run).exists()

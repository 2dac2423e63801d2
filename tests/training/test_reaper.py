"""Runs whose worker went quiet are re-queued from a checkpoint or failed, never left running;
and a delivery of the task decides under a lock whether it may train."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.training.helpers import snapshot_make
from training.models import TrainingRun
from training.services import training_run_execute, training_runs_reap_stale

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot():
    return snapshot_make()


def make_run(snapshot, minutes_quiet: float, **fields) -> TrainingRun:
    beat = timezone.now() - timedelta(minutes=minutes_quiet)
    defaults = {
        "kind": "reward_model", "snapshot": snapshot, "base_model": "/m",
        "artifact_path": "runs/r", "celery_task_id": "t-1", "status": "running", "attempts": 1,
        "started_at": beat, "heartbeat_at": beat,
    }  # fmt: skip
    return TrainingRun.objects.create(**{**defaults, **fields})


def test_stale_runs_are_requeued_with_a_checkpoint_or_failed_without(
    snapshot, settings, django_capture_on_commit_callbacks
):
    settings.TASK_STALE_SECONDS = 600
    fresh = make_run(snapshot, 2, last_checkpoint="/c/step-2")
    with_ckpt = make_run(snapshot, 30, last_checkpoint="/c/step-4")
    without = make_run(snapshot, 30)
    worn_out = make_run(snapshot, 30, last_checkpoint="/c/step-4", attempts=3)
    queued = make_run(snapshot, 30, status="queued")
    with django_capture_on_commit_callbacks(execute=False) as sent:
        outcome = training_runs_reap_stale()
    assert outcome == {"requeued": [with_ckpt.pk], "failed": [without.pk, worn_out.pk]}
    assert len(sent) == 1  # one new task, for the re-queued run
    for run in (fresh, with_ckpt, without, worn_out, queued):
        run.refresh_from_db()
    assert fresh.status == "running" and queued.status == "queued"
    assert with_ckpt.status == "queued" and with_ckpt.celery_task_id != "t-1"
    assert "re-queued to resume from /c/step-4" in with_ckpt.log_tail
    assert without.status == "failed" and "no heartbeat since" in without.error
    assert without.finished_at is not None
    assert worn_out.status == "failed" and "after 3 attempts" in worn_out.error
    assert not TrainingRun.objects.filter(
        status="running", heartbeat_at__lt=timezone.now() - timedelta(minutes=10)
    ).exists()


def test_management_command_reaps(snapshot, capsys, django_capture_on_commit_callbacks):
    run = make_run(snapshot, 90)
    with django_capture_on_commit_callbacks(execute=False):
        call_command("reap_stale_training_runs", "--minutes", "60")
    run.refresh_from_db()
    assert run.status == "failed"
    assert f"failed 1 run(s) [{run.pk}]" in capsys.readouterr().out


def test_periodic_task_reaps(snapshot):
    from training.tasks import training_runs_reap_stale as task

    run = make_run(snapshot, 24 * 60)
    assert task.apply().get() == {"requeued": [], "failed": [run.pk]}


def test_claim_skips_finished_cancelled_and_superseded_deliveries(snapshot):
    done = make_run(snapshot, 0, status="succeeded")
    assert training_run_execute(run_id=done.pk, task_id="t-1") == "skipped"
    cancelled = make_run(snapshot, 0, status="queued", cancel_requested=True)
    assert training_run_execute(run_id=cancelled.pk, task_id="t-1") == "skipped"
    cancelled.refresh_from_db()
    assert cancelled.status == "cancelled"
    queued = make_run(snapshot, 0, status="queued")
    assert training_run_execute(run_id=queued.pk, task_id="an-older-message") == "skipped"
    queued.refresh_from_db()
    assert queued.status == "queued" and queued.attempts == 1
    assert training_run_execute(run_id=10**9, task_id="t-1") == "skipped"


def test_redelivery_waits_while_the_run_heartbeats(snapshot, settings):
    settings.TASK_STALE_SECONDS = 600
    alive = make_run(snapshot, 1)
    assert training_run_execute(run_id=alive.pk, task_id="t-1") == "busy"
    alive.refresh_from_db()
    assert alive.attempts == 1 and alive.status == "running"


def test_a_run_that_fails_to_start_is_marked_failed_with_the_reason(snapshot, settings):
    # The base model directory vanished between the request and the worker.
    run = make_run(snapshot, 0, status="queued", attempts=0, base_model="/nonexistent/model")
    outcome = training_run_execute(run_id=run.pk, task_id="t-1")
    run.refresh_from_db()
    assert outcome == run.status == "failed"
    assert run.error and run.finished_at is not None
    assert run.attempts == 1

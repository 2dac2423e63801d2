"""Every long task has a heartbeat and a reaper: a worker killed mid-way leaves no snapshot or
generation job "running" for ever, no temporary folder on disk, and nothing registered twice.

Before: a snapshot whose worker died stayed ``running`` until a six-hour takeover that only a
re-delivered message (after the broker's seven-day visibility timeout) could trigger, with its
temporary folder left behind; generation jobs had no heartbeat and no reaper at all.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from annotate.models import Prompt
from exports.models import DatasetSnapshot
from exports.services import snapshot_build, snapshot_create, snapshots_root
from tests.factories import ProjectFactory, PromptFactory, annotator
from training.models import GenerationJob
from training.services import generation_job_execute

pytestmark = pytest.mark.django_db

FORWARD = [["A"], ["B"], ["C"], ["D"]]


@pytest.fixture
def project(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.TASK_STALE_SECONDS = 300
    settings.TASK_MAX_ATTEMPTS = 3
    project = ProjectFactory(slug="reaped")
    user = annotator("a1", project)
    for _ in range(3):
        PromptFactory(project=project, k=4).annotations.create(annotator=user, ranking=FORWARD)
    return project


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def running_snapshot(project, quiet_s: float, attempts: int = 1) -> DatasetSnapshot:
    snapshot = snapshot_create(project=project, fmt="rankings", enqueue=False)
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(
        status="running", started_at=ago(quiet_s + 60), heartbeat_at=ago(quiet_s),
        attempts=attempts,
    )  # fmt: skip
    return snapshot


def leftovers(snapshot) -> list[Path]:
    """A dead attempt's temporary folder, and one it renamed in place but never recorded."""
    folder = snapshots_root() / snapshot.project.slug
    paths = [
        folder / f".{snapshot.pk:06d}-rankings-dead0001.tmp",
        folder / f"{snapshot.pk:06d}-rankings-dead0002",
    ]
    for path in paths:
        path.mkdir(parents=True)
        (path / "rankings.jsonl").write_text("{}\n")
    return paths


def test_a_snapshot_whose_worker_died_is_requeued_without_its_leftovers_then_built(
    project, django_capture_on_commit_callbacks, capsys
):
    dead = running_snapshot(project, quiet_s=400)
    alive = running_snapshot(project, quiet_s=10)
    worn_out = running_snapshot(project, quiet_s=400, attempts=3)
    files = leftovers(dead) + leftovers(worn_out) + leftovers(alive)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        call_command("reap_stale_tasks")
    out = capsys.readouterr().out
    assert f"snapshots: re-queued 1 [{dead.pk}], failed 1 [{worn_out.pk}]" in out
    for snapshot in (dead, alive, worn_out):
        snapshot.refresh_from_db()
    assert dead.status == "pending" and "no heartbeat since" in dead.error
    assert worn_out.status == "failed" and "after 3 attempts" in worn_out.error
    assert worn_out.finished_at is not None
    assert alive.status == "running"  # still heartbeating: a long build at work
    assert [p.exists() for p in files] == [False, False, False, False, True, True]

    for callback in queued:
        callback()  # the re-queued build (eager in tests)
    dead.refresh_from_db()
    assert dead.status == "ready" and dead.attempts == 2
    assert dead.row_counts["prompts"] == 3
    on_disk = sorted(
        p.name for p in (snapshots_root() / "reaped").iterdir() if str(dead.pk).zfill(6) in p.name
    )
    assert on_disk == [dead.path.parent.name]  # the one built, nothing else


def test_an_attempt_written_off_mid_build_leaves_the_snapshot_to_its_successor(
    project, monkeypatch
):
    snapshot = snapshot_create(project=project, fmt="rankings", enqueue=False)
    import exports.services as services

    real_manifest = services._manifest

    def reaped_meanwhile(work, fmt):
        # The reaper wrote this attempt off and a new delivery claimed the snapshot.
        DatasetSnapshot.objects.filter(pk=snapshot.pk).update(attempts=5)
        return real_manifest(work, fmt)

    monkeypatch.setattr(services, "_manifest", reaped_meanwhile)
    snapshot_build(snapshot=snapshot)
    snapshot.refresh_from_db()
    assert snapshot.status == "running" and snapshot.attempts == 5  # not this attempt's
    assert snapshot.sha256 == "" and snapshot.file_path == ""
    assert not list((snapshots_root() / "reaped").iterdir())  # its folder went with it


@pytest.fixture
def generate(monkeypatch):
    """A policy that answers instantly (the worker side without torch)."""

    def fake(model, prompts, *, k, **options):
        return [[f"answer {j} to {p}" for j in range(k)] for p in prompts]

    monkeypatch.setattr("rlhf.generate.generate_completions", fake)


def job_in(project, **fields) -> GenerationJob:
    defaults = {"model_path": "/m", "model_name": "pol", "k": 2,
                "prompts": [{"id": "new-1", "prompt": "hi"}, {"id": "new-2", "prompt": "yo"}]}  # fmt: skip
    return GenerationJob.objects.create(project=project, **{**defaults, **fields})


def test_a_generation_job_whose_worker_died_is_requeued_or_failed(
    project, generate, django_capture_on_commit_callbacks
):
    dead = job_in(project, status="running", attempts=1, celery_task_id="old",
                  started_at=ago(900), heartbeat_at=ago(400))  # fmt: skip
    worn_out = job_in(project, status="running", attempts=3, started_at=ago(900),
                      heartbeat_at=ago(400), prompts=[{"id": "w", "prompt": "x"}])  # fmt: skip
    alive = job_in(project, status="running", attempts=1, started_at=ago(900),
                   heartbeat_at=ago(5), prompts=[{"id": "z", "prompt": "x"}])  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False) as queued:
        call_command("reap_stale_tasks")
    for job in (dead, worn_out, alive):
        job.refresh_from_db()
    assert dead.status == "queued" and dead.celery_task_id != "old"
    assert worn_out.status == "failed" and "after 3 attempts" in worn_out.error
    assert alive.status == "running"
    for callback in queued:
        callback()
    dead.refresh_from_db()
    assert dead.status == "succeeded" and dead.attempts == 2
    assert Prompt.objects.filter(project=project, external_id__startswith="new-").count() == 2


def test_a_generation_that_fails_after_importing_leaves_no_prompt(project, generate, monkeypatch):
    """Importing and recording success are one transaction: a crash between them (before: the
    prompts stayed, the job stayed running, and its re-run imported again) leaves nothing."""
    job = job_in(project)

    def crash(self):
        raise RuntimeError("worker died while recording the result")

    monkeypatch.setattr("annotate.services.imports.ImportResult.as_dict", crash)
    outcome = generation_job_execute(job_id=job.pk)
    assert not Prompt.objects.filter(external_id__startswith="new-").exists()
    job.refresh_from_db()
    assert outcome == job.status == "failed" and "recording the result" in job.error


def test_a_superseded_generation_attempt_imports_nothing(project, generate, monkeypatch):
    job = job_in(project)
    import training.services.generation as generation

    real = generation.generation_import_lines

    def reaped_meanwhile(*, job: GenerationJob, completions):
        GenerationJob.objects.filter(pk=job.pk).update(attempts=7)
        return real(job=job, completions=completions)

    monkeypatch.setattr(generation, "generation_import_lines", reaped_meanwhile)
    assert generation_job_execute(job_id=job.pk) == "skipped"
    assert not Prompt.objects.filter(external_id__startswith="new-").exists()
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 7  # the successor's, untouched


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_writes_until_the_task_ends_and_notices_a_takeover(settings):
    from core.heartbeat import Heartbeat

    project = ProjectFactory()
    job = job_in(project, status="running", attempts=1, heartbeat_at=ago(3600))
    mine = GenerationJob.objects.filter(pk=job.pk, attempts=1)
    with Heartbeat(mine, interval=0.05) as beating:
        time.sleep(0.4)
        job.refresh_from_db()
        assert timezone.now() - job.heartbeat_at < timedelta(seconds=5)
        GenerationJob.objects.filter(pk=job.pk).update(attempts=2)
        time.sleep(0.3)
        assert beating.lost
    stopped = GenerationJob.objects.get(pk=job.pk).heartbeat_at
    time.sleep(0.2)
    assert GenerationJob.objects.get(pk=job.pk).heartbeat_at == stopped


def test_beat_runs_the_sweep_and_the_reapers(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"core.outbox_sweep", "core.tasks_reap_stale"} <= tasks
    from config.celery import app

    app.loader.import_default_modules()
    assert {"core.outbox_sweep", "core.tasks_reap_stale"} <= set(app.tasks)

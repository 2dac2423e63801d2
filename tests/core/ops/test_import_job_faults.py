"""Import jobs (large uploads run by the worker) under faults: queued through the dispatch
helper (503 and no row, no stored file, with the broker down), heartbeating with their progress
reports, reaped when their worker dies, and never finished twice.

Before: the upload was stored and its job committed, then the post-commit ``delay`` raised
(500 with the job and its file stored, never run); a job whose worker died stayed ``running``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import ImportJob, Prompt
from annotate.services import import_jobs
from core.roles import Roles
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def lines(n: int) -> bytes:
    return b"".join(
        json.dumps({"id": f"p{i}", "prompt": f"Q{i}?", "completions": ["a", "b"]}).encode() + b"\n"
        for i in range(n)
    )


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RANKWISE_IMPORT_SYNC_MAX_BYTES = 200
    settings.TASK_STALE_SECONDS = 300
    settings.TASK_MAX_ATTEMPTS = 3
    return settings.MEDIA_ROOT


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(
        UserFactory(username="boss", roles=[Roles.ADMIN], is_staff=True, is_superuser=True)
    )
    return client


def upload(api, project, data: bytes):
    return api.post(
        f"/api/v1/projects/{project.slug}/prompts/import/",
        {"file": SimpleUploadedFile("big.jsonl", data), "format": "rankwise"}, format="multipart",
    )  # fmt: skip


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_a_large_upload_with_the_broker_down_is_503_and_leaves_nothing(redis_down, media, api):
    project = ProjectFactory()
    response = upload(api, project, lines(20))
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "broker_unavailable"
    assert not ImportJob.objects.exists()
    assert stored_files(media) == []
    assert not apps.get_model("core", "OutboxMessage").objects.exists()


def test_a_large_upload_goes_through_the_outbox(media, api, django_capture_on_commit_callbacks):
    from core.models import OutboxMessage

    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = upload(api, project, lines(20))
    assert response.status_code == 202, response.content
    message = OutboxMessage.objects.get()
    assert message.task_name == "annotate.import_job_run"
    assert message.args == [response.json()["id"]]
    for callback in queued:
        callback()  # eager: the worker's run
    assert ImportJob.objects.get().status == "succeeded"
    assert Prompt.objects.filter(project=project).count() == 20
    assert not OutboxMessage.objects.exists()


def running_job(project, media, *, attempts: int, quiet_s: float) -> ImportJob:
    job = import_jobs.import_job_create(
        project=project, upload=SimpleUploadedFile("big.jsonl", lines(20)), fmt="rankwise",
        annotator=None, actor=None,
    )  # fmt: skip
    beat = timezone.now() - timedelta(seconds=quiet_s)
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", attempts=attempts, started_at=beat, heartbeat_at=beat
    )
    return ImportJob.objects.get(pk=job.pk)


def test_an_import_whose_worker_died_is_requeued_then_imported_once(
    media, django_capture_on_commit_callbacks
):
    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=False):
        dead = running_job(project, media, attempts=1, quiet_s=600)
        alive = running_job(project, media, attempts=1, quiet_s=10)
        worn_out = running_job(project, media, attempts=3, quiet_s=600)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        call_command("reap_stale_tasks")
    for job in (dead, alive, worn_out):
        job.refresh_from_db()
    assert dead.status == "queued" and alive.status == "running"
    assert worn_out.status == "failed" and not worn_out.file
    assert "presumed lost after 3 attempt(s)" in worn_out.errors[0]["message"]
    for callback in queued:
        callback()  # the re-queued run, eager
    dead.refresh_from_db()
    assert dead.status == "succeeded" and dead.attempts == 2 and dead.prompts_created == 20
    assert Prompt.objects.filter(project=project).count() == 20


def test_an_attempt_written_off_does_not_finish_the_job_of_its_successor(
    media, django_capture_on_commit_callbacks, monkeypatch
):
    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=False):
        job = import_jobs.import_job_create(
            project=project, upload=SimpleUploadedFile("big.jsonl", lines(20)),
            fmt="rankwise", annotator=None, actor=None,
        )  # fmt: skip
    real_import = import_jobs.prompts_import

    def reaped_meanwhile(**kwargs):
        result = real_import(**kwargs)
        ImportJob.objects.filter(pk=job.pk).update(status="running", attempts=9)
        return result

    monkeypatch.setattr(import_jobs, "prompts_import", reaped_meanwhile)
    import_jobs.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 9  # the successor's row, untouched
    assert job.file  # and its file, which the successor reads

"""Large uploads become ImportJobs run by the worker, with progress on the row; small ones are
imported inside the request as before."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from rest_framework.test import APIClient

from annotate.models import ImportJob, Prompt
from annotate.services import import_jobs
from core.roles import Roles
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def lines(n: int, start: int = 0) -> bytes:
    return b"".join(
        json.dumps({"id": f"p{i}", "prompt": f"Q{i}?", "completions": ["a", "b"],
                    "annotations": [{"annotator": "al", "ranking": [["0"], ["1"]]}]}).encode()
        + b"\n"
        for i in range(start, start + n)
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RANKWISE_IMPORT_SYNC_MAX_BYTES = 2000


@pytest.fixture
def admin(db):
    return UserFactory(username="boss", roles=[Roles.ADMIN], is_staff=True, is_superuser=True)


@pytest.fixture
def api(admin):
    client = APIClient()
    client.force_authenticate(admin)
    return client


def upload(api, project, data: bytes, name="big.jsonl"):
    return api.post(
        f"/api/v1/projects/{project.slug}/prompts/import/",
        {"file": SimpleUploadedFile(name, data), "format": "rankwise"}, format="multipart",
    )  # fmt: skip


def test_small_upload_is_imported_in_the_request(api):
    project = ProjectFactory()
    data = lines(3)
    assert len(data) <= 2000
    response = upload(api, project, data)
    assert response.status_code == 201, response.content
    assert response.json()["prompts_created"] == 3
    assert not ImportJob.objects.exists()


def test_large_upload_is_a_job_the_worker_runs(api, admin, django_capture_on_commit_callbacks):
    project = ProjectFactory()
    data = lines(40)
    assert len(data) > 2000
    with django_capture_on_commit_callbacks() as queued:
        response = upload(api, project, data)
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "queued" and job["file_name"] == "big.jsonl"
    assert job["file_size"] == len(data) and job["created_by"] == "boss"
    assert (
        response["Location"]
        == job["url"]
        == f"/api/v1/projects/{project.slug}/imports/{job['id']}/"
    )
    stored = ImportJob.objects.get().file.name
    assert default_storage.exists(stored)
    assert Prompt.objects.count() == 0  # nothing imported by the request itself
    assert len(queued) == 1

    queued[0]()  # what the worker does once the request has committed

    done = api.get(job["url"]).json()
    assert done["status"] == "succeeded", done
    assert done["lines_read"] == 40 and done["prompts_created"] == 40
    assert done["error_count"] == 0 and done["errors"] == []
    assert done["result"]["prompts_created"] == 40 and done["result"]["annotations_created"] == 40
    assert done["started_at"] and done["finished_at"]
    assert Prompt.objects.filter(project=project).count() == 40
    assert not default_storage.exists(stored), "the uploaded file is removed once imported"
    listed = api.get(f"/api/v1/projects/{project.slug}/imports/").json()["results"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_gzip_is_judged_by_its_decompressed_size(api, django_capture_on_commit_callbacks):
    project = ProjectFactory()
    data = gzip.compress(lines(40))
    assert len(data) < 2000
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, project, data, name="big.jsonl.gz")
    assert response.status_code == 202
    job = ImportJob.objects.get()
    assert job.status == "succeeded" and job.prompts_created == 40
    assert job.file_name == "big.jsonl.gz"


def test_a_failed_job_keeps_its_errors_and_writes_nothing(api, django_capture_on_commit_callbacks):
    project = ProjectFactory()
    bad = json.dumps({"id": "x", "prompt": "Q", "completions": ["only one"]}).encode() + b"\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, project, lines(20) + bad + lines(20, start=100))
    job = api.get(response.json()["url"]).json()
    assert job["status"] == "failed"
    assert job["errors"] == [{"line": 21, "field": "completions", "message": "1 item, need 2 to 9"}]
    assert job["error_count"] == 1 and job["prompts_created"] == 0 and job["result"] is None
    assert job["lines_read"] == 41
    assert Prompt.objects.count() == 0
    assert not ImportJob.objects.get().file


def test_an_internal_error_fails_the_job_without_a_traceback(
    api, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(import_jobs, "prompts_import", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, ProjectFactory(), lines(40))
    job = api.get(response.json()["url"]).json()
    assert job["status"] == "failed"
    assert "internal error" in job["errors"][0]["message"]
    assert "disk on fire" not in json.dumps(job)


def test_a_job_runs_once(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        upload(api, ProjectFactory(), lines(40))
    queued[0]()
    job = ImportJob.objects.get()
    assert import_jobs.import_job_run(job_id=job.pk) is None  # a second delivery
    assert Prompt.objects.count() == 40


def test_admin_upload_of_a_large_file_shows_the_job(admin, client,
                                                    django_capture_on_commit_callbacks):  # fmt: skip
    client.force_login(admin)
    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/annotate/project/{project.pk}/import/",
            {"file": SimpleUploadedFile("big.jsonl", lines(40)), "format": "rankwise"},
        )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/annotate/importjob/{job.pk}/change/"
    page = client.get(response["Location"]).content.decode()
    assert ">Succeeded<" in page and "big.jsonl" in page
    assert f"import job #{job.pk} runs it in the background" in page
    listing = client.get("/admin/annotate/importjob/").content.decode()
    assert "big.jsonl" in listing
    assert client.get("/admin/annotate/importjob/add/").status_code == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_import_transaction_is_open(settings, monkeypatch):
    """Pollers read progress from another connection before the import commits."""
    settings.RANKWISE_IMPORT_BATCH_SIZE = 10
    admin = UserFactory(username="boss", roles=[Roles.ADMIN])
    project = ProjectFactory()
    job = ImportJob.objects.create(
        project=project, created_by=admin, format="rankwise", file_name="x.jsonl", file_size=1
    )
    job.file.save("x.jsonl", SimpleUploadedFile("x.jsonl", lines(35)))
    seen = []
    reader = connections.create_connection("default")

    def watch(batch_progress):
        original(batch_progress)
        with reader.cursor() as cursor:
            cursor.execute(
                "SELECT status, lines_read, prompts_created FROM annotate_importjob WHERE id = %s",
                [job.pk],
            )
            seen.append(cursor.fetchone())
        with reader.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM annotate_prompt")
            seen.append(("prompts committed", cursor.fetchone()[0]))

    original_import = import_jobs.prompts_import

    def spying_import(**kwargs):
        nonlocal original
        original = kwargs["progress"]
        kwargs["progress"] = watch
        return original_import(**kwargs)

    original = None
    monkeypatch.setattr(import_jobs, "prompts_import", spying_import)
    try:
        import_jobs.import_job_run(job_id=job.pk)
    finally:
        reader.close()
    job.refresh_from_db()
    assert job.status == "succeeded" and job.prompts_created == 35
    running = [row for row in seen if row[0] == "running"]
    assert ("running", 10, 10) in running and ("running", 30, 30) in running, seen
    assert ("prompts committed", 0) in seen  # the import itself is still one transaction

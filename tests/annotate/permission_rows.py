"""The import jobs' rows of the API permission matrix (``tests/api/permission_matrix.py``
appends them to its ENDPOINTS). Import jobs belong to a project and only admins import, so
members of other roles get 403 and everyone outside the project 404."""

from __future__ import annotations

from tests.api.permission_matrix import Endpoint, url

P = "/api/v1/projects/{w.project.slug}/"


def import_job(world):
    from annotate.models import ImportJob
    from tests.api.conftest import MARKER

    if not hasattr(world, "_import_job"):
        world._import_job = ImportJob.objects.create(
            project=world.project, format="rankwise", file_name=f"{MARKER}.jsonl", file_size=10,
            status=ImportJob.Status.SUCCEEDED,
        )  # fmt: skip
    return world._import_job


IMPORT_JOB_ENDPOINTS = [
    Endpoint("import job list", "get", url(P + "imports/")),
    Endpoint("import job detail", "get", lambda w: f"/api/v1/projects/{w.project.slug}/imports/"
             f"{import_job(w).pk}/"),
]  # fmt: skip

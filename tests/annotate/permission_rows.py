"""The annotate app's rows of the permission matrix (``tests/api/permission_matrix.py``
appends them to its ENDPOINTS).

The ranking pages follow the same rules as the API's annotator flow, which is what they call
(session + CSRF; they have no JSON endpoints of their own): annotators (and member admins)
judge; reviewers and ML engineers who are members get 403, non-members 404 whatever their role,
anonymous visitors the login page.

Import jobs belong to a project and only admins import, so members of other roles get 403 and
everyone outside the project 404.
"""

from __future__ import annotations

from tests.api.permission_matrix import ANY, OBJECT, Endpoint, url

P = "/projects/{w.project.slug}/"
API = "/api/v1/projects/{w.project.slug}/"
JUDGES = frozenset({"annotator"})
RANKING = {"ranking": [["B"], ["A"], ["C"]]}

ANNOTATE_PAGES = [
    Endpoint("project page", "get", url(P), ANY, surface="page"),
    Endpoint("ranking page", "get", url(P + "annotate/"), JUDGES, surface="page"),
    Endpoint("my annotations page", "get", url(P + "my-annotations/"), JUDGES, surface="page"),
    # One's own annotations only: an admin finds not the annotator's.
    Endpoint("edit page", "get", url("/annotations/{w.own_annotation.pk}/edit/"), JUDGES,
             scoped=OBJECT, surface="page", overrides={"admin": 404, "admin@elsewhere": 404}),
]  # fmt: skip


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
    Endpoint("import job list", "get", url(API + "imports/")),
    Endpoint("import job detail", "get", lambda w: f"/api/v1/projects/{w.project.slug}/imports/"
             f"{import_job(w).pk}/"),
]  # fmt: skip

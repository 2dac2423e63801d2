"""The table of every URL (API and pages) and who may call it; test_permissions.py runs each
row as every principal (tests/api/conftest.py PRINCIPALS) and walks the URLconf so that a URL
without a row fails.

It checks core/policy.py (the one table the views consult) from the outside: rows say
what each principal should get, not how the code decides. To cover a new URL, append an
``Endpoint`` to ``ENDPOINTS`` (or to an app's ``tests/<app>/permission_rows.py``, appended
below). Expected statuses are derived, not listed:

* anonymous: ``ok`` if "anonymous" is in ``allowed``; else 401 (the API and the pages' JSON
  endpoints) or 302 to the login page (pages);
* admins (member of the project or not: admins see every project): ``ok``;
* a role in ``allowed`` (``ANY``: any role): ``ok``;
* the same role as a member of another project only (``role@elsewhere``): on a URL of the
  project (``scoped=True``, a ``<slug>``) 404 whatever the role, before anything else is
  looked at; on an object of the project reached by id (``scoped=OBJECT``) 403 without the
  role (for any id, so nothing leaks), 404 with it; else (``scoped=False``) as its role says.
  Whatever it gets, the response never contains the project's MARKER;
* any other role: 403.

``overrides`` lists principals whose answer differs (e.g. the work queue's 409 for an admin of
another project). ``surface`` says how to call the URL: "api" (token), "page" (session, HTML)
or "json" (session, the ranking page's JSON endpoints).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

ANY = frozenset({"annotator", "reviewer", "ml_engineer"})
PUBLIC = frozenset({"anonymous"}) | ANY
OBJECT = "object"  # scoped through an object reached by id, not through the URL's project


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Callable  # world -> URL
    allowed: frozenset = frozenset()
    ok: int = 200
    body: Callable | None = None  # world -> dict (JSON), {"multipart": {...}} or {"form": {...}}
    scoped: bool | str = True  # True: the URL names the world's project; OBJECT: an object of it
    extra_checks: tuple = field(default_factory=tuple)  # (response, world, who) -> None
    overrides: dict = field(default_factory=dict)  # principal -> status, where the rule differs
    surface: str = "api"  # "api", "page" or "json"

    def expected(self, who: str) -> int:
        if who in self.overrides:
            return self.overrides[who]
        if who == "anonymous":
            if "anonymous" in self.allowed:
                return self.ok
            return 302 if self.surface == "page" else 401
        role, _, elsewhere = who.partition("@")
        if role == "admin":
            return self.ok
        if elsewhere and self.scoped is True:
            return 404
        if role not in self.allowed:
            return 403
        return 404 if elsewhere and self.scoped == OBJECT else self.ok


def _import_file(world):
    line = {"id": "imported-1", "prompt": "New prompt", "completions": ["a", "b"]}
    return {"multipart": {"file": io.BytesIO(json.dumps(line).encode()), "format": "rankwise"}}


P = "/api/v1/projects/{w.project.slug}/"


def url(template: str) -> Callable:
    return lambda w: template.format(w=w)


ENDPOINTS: list[Endpoint] = [
    # auth and users
    Endpoint("me", "get", url("/api/v1/me/"), ANY, scoped=False),
    Endpoint("login csrf token", "get", url("/api/v1/auth/login/"), PUBLIC, scoped=False),
    Endpoint("login", "post", url("/api/v1/auth/login/"), PUBLIC, scoped=False,
             body=lambda w: {"username": "out", "password": "pw-matrix"}),
    Endpoint("token login", "post", url("/api/v1/auth/token/"), PUBLIC, scoped=False,
             body=lambda w: {"username": "out", "password": "pw-matrix"}),
    Endpoint("logout", "post", url("/api/v1/auth/logout/"), ANY, ok=204, scoped=False),
    Endpoint("user list", "get", url("/api/v1/users/"), scoped=False),
    Endpoint("user create", "post", url("/api/v1/users/"), ok=201, scoped=False,
             body=lambda w: {"username": "newbie", "roles": ["annotator"]}),
    Endpoint("user detail", "get", url("/api/v1/users/ann/"), scoped=False),
    Endpoint("user update", "patch", url("/api/v1/users/ann/"), scoped=False,
             body=lambda w: {"roles": ["annotator", "reviewer"]}),
    Endpoint("token issue", "post", url("/api/v1/users/ann2/token/"), ok=201, scoped=False),
    Endpoint("token revoke", "delete", url("/api/v1/users/rev/token/"), ok=204, scoped=False),
    # projects
    Endpoint("project list", "get", url("/api/v1/projects/"), ANY, scoped=False),
    Endpoint("project create", "post", url("/api/v1/projects/"), ok=201, scoped=False,
             body=lambda w: {"name": "Fresh", "slug": "fresh"}),
    Endpoint("project detail", "get", url(P), ANY),
    Endpoint("project update", "patch", url(P), body=lambda w: {"instructions": "Be kind."}),
    Endpoint("project delete", "delete", url(P), ok=204),
    Endpoint("member list", "get", url(P + "members/"), {"reviewer"}),
    Endpoint("member add", "post", url(P + "members/"),
             body=lambda w: {"usernames": ["out"]}),
    Endpoint("member remove", "delete", url(P + "members/ann2/"), ok=204),
    # prompts and annotations
    Endpoint("prompt list", "get", url(P + "prompts/"), {"reviewer"}),
    Endpoint("prompt detail", "get", url(P + "prompts/{w.prompt.pk}/"), {"reviewer"}),
    Endpoint("prompt import", "post", url(P + "prompts/import/"), ok=201, body=_import_file),
    Endpoint("annotation list", "get", url(P + "annotations/"), {"reviewer"}),
    Endpoint("annotation detail", "get", url(P + "annotations/{w.annotation.pk}/"),
             {"reviewer"}),
    Endpoint("annotation review", "patch", url(P + "annotations/{w.annotation.pk}/"),
             {"reviewer"}, body=lambda w: {"comment": "checked"}),
    # the annotator flow: annotators and member admins judge; the queue refuses non-members
    Endpoint("next task", "post", url(P + "tasks/next/"), {"annotator"},
             overrides={"admin@elsewhere": 409}),
    Endpoint("submit", "post", url(P + "tasks/{w.open_prompt.pk}/submit/"), {"annotator"},
             ok=201, body=lambda w: {"ranking": [["B"], ["A"], ["C"]]},
             overrides={"admin@elsewhere": 409}),
    Endpoint("skip", "post", url(P + "tasks/{w.open_prompt.pk}/skip/"), {"annotator"},
             ok=201, body=lambda w: {"reason": "cannot judge"},
             overrides={"admin@elsewhere": 409}),
    Endpoint("peek next task", "get", url(P + "tasks/peek/"), {"annotator"},
             overrides={"admin@elsewhere": 409}),
    # nobody in the matrix holds a claim on the prompt: past the policy the queue answers 409
    # (no_claim; not_member for an admin of another project)
    Endpoint("extend reservation", "post", url(P + "tasks/{w.open_prompt.pk}/extend/"),
             {"annotator"}, ok=409),
    Endpoint("my annotations", "get", url(P + "my/annotations/"), {"annotator"}),
    # only one's own annotation is found: an admin gets 404 for the annotator's
    Endpoint("my annotation edit", "patch", url(P + "my/annotations/{w.own_annotation.pk}/"),
             {"annotator"}, body=lambda w: {"comment": "on second thought"},
             overrides={"admin": 404, "admin@elsewhere": 404}),
    Endpoint("my progress", "get", url(P + "my/progress/"), {"annotator"}),
    # exports
    Endpoint("snapshot list", "get", url("/api/v1/snapshots/?project={w.project.slug}"),
             {"ml_engineer"}, scoped=False),
    Endpoint("snapshot create", "post", url("/api/v1/snapshots/"), ok=202, scoped=False,
             body=lambda w: {"project": w.project.slug, "format": "pairwise"}),
    Endpoint("snapshot detail", "get", url("/api/v1/snapshots/{w.snapshot.pk}/"),
             {"ml_engineer"}, scoped=OBJECT),
    Endpoint("snapshot download", "get", url("/api/v1/snapshots/{w.snapshot.pk}/download/"),
             {"ml_engineer"}, scoped=OBJECT),
    # the schema and its viewers: for signed-in users
    Endpoint("API schema", "get", url("/api/schema/"), ANY, scoped=False),
    Endpoint("Swagger UI", "get", url("/api/docs/"), ANY, scoped=False),
    Endpoint("ReDoc", "get", url("/api/redoc/"), ANY, scoped=False),
    # pages outside the apps
    Endpoint("home page", "get", url("/"), ANY, scoped=False, surface="page"),
    Endpoint("health check", "get", url("/healthz"), PUBLIC, scoped=False, surface="page"),
    Endpoint("login page", "get", url("/accounts/login/"), PUBLIC, scoped=False,
             surface="page"),
    Endpoint("login form", "post", url("/accounts/login/"), PUBLIC, scoped=False,
             surface="page", body=lambda w: {"form": {"username": "x", "password": "y"}}),
    Endpoint("logout form", "post", url("/accounts/logout/"), PUBLIC, ok=302, scoped=False,
             surface="page"),
]  # fmt: skip

# The ranking pages and their JSON endpoints.
from tests.annotate.permission_rows import ANNOTATE_PAGES  # noqa: E402

ENDPOINTS += ANNOTATE_PAGES

# The training and reward-model endpoints and pages (their objects are built on first use).
from tests.training.permission_rows import TRAINING_ENDPOINTS  # noqa: E402

ENDPOINTS += TRAINING_ENDPOINTS

# The agreement report, its recompute and the review pages.
from tests.agreement.permission_rows import AGREEMENT_ENDPOINTS  # noqa: E402

ENDPOINTS += AGREEMENT_ENDPOINTS

# Import jobs (large uploads run by the worker) and the audit log.
from tests.annotate.permission_rows import IMPORT_JOB_ENDPOINTS  # noqa: E402
from tests.core.permission_rows import AUDIT_ENDPOINTS  # noqa: E402

ENDPOINTS += IMPORT_JOB_ENDPOINTS + AUDIT_ENDPOINTS

# Webhooks: a project's admins and ML engineers.
from tests.webhooks.permission_rows import WEBHOOK_ENDPOINTS  # noqa: E402

ENDPOINTS += WEBHOOK_ENDPOINTS

# The model in the loop: queue order, retraining, machine annotators.
from tests.loop.permission_rows import LOOP_ENDPOINTS  # noqa: E402

ENDPOINTS += LOOP_ENDPOINTS

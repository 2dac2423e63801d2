"""The table of every API endpoint and who may call it; test_permissions.py runs it per role.

To cover a new endpoint, append an ``Endpoint`` (or extend ``ENDPOINTS`` from your own module:
``ENDPOINTS += [...]`` before test_permissions is collected, or import this table in your own
parametrized test). Expected statuses are derived, not listed:

* anonymous: 401 (unless "anonymous" is in ``allowed``);
* a role in ``allowed`` (admins are always allowed): ``ok``;
* the outsider (every role but admin, member of another project only): 404 on project-scoped
  endpoints (``scoped=True``: the project's existence does not leak), else as its roles say;
  and whatever it gets, the response never contains the project's MARKER;
* any other role: 403.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

ANY = frozenset({"annotator", "reviewer", "ml_engineer"})
OUTSIDER_ROLES = ANY  # what tests/api/conftest.py gives the outsider


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Callable  # world -> URL
    allowed: frozenset = frozenset()
    ok: int = 200
    body: Callable | None = None  # world -> dict (JSON) or {"multipart": {...}}
    scoped: bool = True  # the URL or object belongs to the world's project
    extra_checks: tuple = field(default_factory=tuple)  # (response, world, role) -> None
    overrides: dict = field(default_factory=dict)  # role -> status, where the rule differs

    def expected(self, role: str) -> int:
        if role in self.overrides:
            return self.overrides[role]
        if role == "anonymous":
            return self.ok if "anonymous" in self.allowed else 401
        if role == "admin" or role in self.allowed:
            return self.ok
        if role == "outsider":
            if self.scoped:
                return 404
            return self.ok if OUTSIDER_ROLES & self.allowed else 403
        return 403


def _import_file(world):
    line = {"id": "imported-1", "prompt": "New prompt", "completions": ["a", "b"]}
    return {"multipart": {"file": io.BytesIO(json.dumps(line).encode()), "format": "rankwise"}}


P = "/api/v1/projects/{w.project.slug}/"


def url(template: str) -> Callable:
    return lambda w: template.format(w=w)


ENDPOINTS: list[Endpoint] = [
    # auth and users
    Endpoint("me", "get", url("/api/v1/me/"), ANY, scoped=False),
    Endpoint("login", "post", url("/api/v1/auth/login/"), ANY | {"anonymous"}, scoped=False,
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
    # the annotator flow; the world's admin is no member, and the queue refuses non-members
    Endpoint("next task", "post", url(P + "tasks/next/"), {"annotator"},
             overrides={"admin": 409}),
    Endpoint("submit", "post", url(P + "tasks/{w.open_prompt.pk}/submit/"), {"annotator"},
             ok=201, body=lambda w: {"ranking": [["B"], ["A"], ["C"]]},
             overrides={"admin": 409}),
    Endpoint("skip", "post", url(P + "tasks/{w.open_prompt.pk}/skip/"), {"annotator"},
             ok=201, body=lambda w: {"reason": "cannot judge"}, overrides={"admin": 409}),
    Endpoint("my annotations", "get", url(P + "my/annotations/"), {"annotator"}),
    # only one's own annotation is found: the admin gets 404 for the annotator's
    Endpoint("my annotation edit", "patch", url(P + "my/annotations/{w.own_annotation.pk}/"),
             {"annotator"}, body=lambda w: {"comment": "on second thought"},
             overrides={"admin": 404}),
    Endpoint("my progress", "get", url(P + "my/progress/"), {"annotator"}),
    # exports
    Endpoint("snapshot list", "get", url("/api/v1/snapshots/?project={w.project.slug}"),
             {"ml_engineer"}, scoped=False),
    Endpoint("snapshot create", "post", url("/api/v1/snapshots/"), ok=202, scoped=False,
             body=lambda w: {"project": w.project.slug, "format": "pairwise"}),
    Endpoint("snapshot detail", "get", url("/api/v1/snapshots/{w.snapshot.pk}/"),
             {"ml_engineer"}),
    Endpoint("snapshot download", "get", url("/api/v1/snapshots/{w.snapshot.pk}/download/"),
             {"ml_engineer"}),
]  # fmt: skip

# The training and reward-model endpoints (their objects are built on first use).
from tests.training.permission_rows import TRAINING_ENDPOINTS  # noqa: E402

ENDPOINTS += TRAINING_ENDPOINTS

# The agreement report and its recompute.
from tests.agreement_app.permission_rows import AGREEMENT_ENDPOINTS  # noqa: E402

ENDPOINTS += AGREEMENT_ENDPOINTS

# Import jobs (large uploads run by the worker) and the audit log.
from tests.annotate.permission_rows import IMPORT_JOB_ENDPOINTS  # noqa: E402
from tests.core.permission_rows import AUDIT_ENDPOINTS  # noqa: E402

ENDPOINTS += IMPORT_JOB_ENDPOINTS + AUDIT_ENDPOINTS

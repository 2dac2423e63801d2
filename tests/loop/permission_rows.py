"""The model-in-the-loop endpoints' rows of the permission matrix (``tests/api/permission_matrix.py``
appends them to its ENDPOINTS).

A project's loop settings and its machine annotators are read by reviewers and ML engineers (as
the agreement report is) and changed by admins only: they decide what people judge next and
which labels count.
"""

from __future__ import annotations

from tests.api.permission_matrix import Endpoint, url

P = "/api/v1/projects/{w.project.slug}/"
READERS = frozenset({"reviewer", "ml_engineer"})
ADMINS = frozenset()  # admins pass every rule; nobody else


def machine(world):
    from django.contrib.auth import get_user_model

    from loop.models import MachineAnnotator
    from tests.api.conftest import MARKER

    if not hasattr(world, "_machine"):
        user = get_user_model().objects.create(username=f"machine.{MARKER}")
        world._machine = MachineAnnotator.objects.create(
            project=world.project, name="judge", kind="chat", url="http://127.0.0.1:8131/v1",
            model=MARKER, user=user, hybrid_threshold=0.9,
        )  # fmt: skip
    return world._machine


def machine_url(action: str):
    return lambda w: (
        f"/api/v1/projects/{w.project.slug}/machine-annotators/{machine(w).pk}/{action}/"
    )


LOOP_ENDPOINTS = [
    Endpoint("loop panel page", "get", url("/projects/{w.project.slug}/loop/"), READERS,
             surface="page"),
    Endpoint("loop settings", "get", url(P + "loop/"), READERS),
    Endpoint("loop settings change", "patch", url(P + "loop/"), ADMINS,
             body=lambda w: {"priority": "random", "shown_k": 3}),
    Endpoint("loop rescore", "post", url(P + "loop/rescore/"), ADMINS, ok=202),
    Endpoint("machine annotator list", "get", url(P + "machine-annotators/"), READERS),
    Endpoint("machine annotator create", "post", url(P + "machine-annotators/"), ADMINS, ok=201,
             body=lambda w: {"name": "judge-2", "kind": "chat", "url": "http://127.0.0.1:8131/v1",
                             "model": "smollm2"}),
    Endpoint("machine annotator judge", "post", machine_url("judge"), ADMINS, ok=202),
    Endpoint("machine annotator calibrate", "post", machine_url("calibrate"), ADMINS,
             body=lambda w: {"max_error": 0.2}),
    Endpoint("machine annotator route", "post", machine_url("route"), ADMINS,
             body=lambda w: {"audit_rate": 0.5, "seed": 1}),
]  # fmt: skip

"""Redis unreachable (REDIS_URL at a closed port): it is the cache, the session cache and the
broker. Annotating, reviewing and reading keep working from the database; work that needs the
broker answers 503 and writes nothing; /healthz names what is down.

Each of these answered 500 (or raised) before: pages read sessions through the cache, a
submission's post-commit flush marker raised after the commit, and a snapshot's post-commit
enqueue raised with the row already stored.
"""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agreement.models import Adjudication, PendingConsensus, PromptConsensus
from agreement.services import pending_consensus_sweep
from annotate.models import Annotation, Membership
from core.roles import Roles
from exports.models import DatasetSnapshot
from tests.factories import ProjectFactory, PromptFactory, UserFactory
from tests.training.helpers import snapshot_make
from training.models import GenerationJob, TrainingRun

pytestmark = pytest.mark.django_db

FORWARD = [["A"], ["B"], ["C"], ["D"]]


def member(project, username, *roles, **extra):
    user = UserFactory(username=username, roles=list(roles), **extra)
    user.save(update_fields=["password"])
    Membership.objects.get_or_create(project=project, user=user)
    return user


@pytest.fixture
def world():
    project = ProjectFactory(slug="faulty")
    prompts = [PromptFactory(project=project, k=4) for _ in range(3)]
    return {
        "project": project,
        "prompts": prompts,
        "annotator": member(project, "ann", Roles.ANNOTATOR),
        "reviewer": member(project, "rev", Roles.REVIEWER),
        "engineer": member(project, "mle", Roles.ML_ENGINEER),
        "admin": member(project, "boss", Roles.ADMIN, is_staff=True, is_superuser=True),
    }


def api_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_pages_answer_from_the_database_while_redis_is_down(redis_down, client, world):
    slug = world["project"].slug
    prompt = world["prompts"][0]
    prompt.annotations.create(annotator=world["annotator"], ranking=FORWARD)
    pages = {
        "annotator": ["/", f"/projects/{slug}/", f"/projects/{slug}/annotate/",
                      f"/projects/{slug}/my-annotations/"],
        "reviewer": [f"/projects/{slug}/agreement/", f"/projects/{slug}/review/",
                     f"/projects/{slug}/review/{prompt.pk}/"],
        "engineer": ["/training/runs/"],
        "admin": ["/admin/", "/admin/exports/datasetsnapshot/"],
    }  # fmt: skip
    for role, urls in pages.items():
        client.force_login(world[role])
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (role, url, response.status_code)
        client.logout()
    # A person logs in with the form, and the session it makes is read back.
    response = client.post(reverse("login"), {"username": "ann", "password": "pw"})
    assert response.status_code == 302
    assert client.get(f"/projects/{slug}/").status_code == 200
    # Logging out ends the session in the database, with no cache to ask.
    client.post(reverse("logout"))
    assert client.get(f"/projects/{slug}/").status_code == 302  # to the login page


def test_a_page_submission_is_acknowledged_stored_once_and_swept_later(
    redis_down, client, world, django_capture_on_commit_callbacks
):
    slug, user = world["project"].slug, world["annotator"]
    client.force_login(user)
    task = client.post(f"/api/v1/projects/{slug}/tasks/next/").json()
    body = {"ranking": FORWARD, "shown_order": task["shown_order"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/projects/{slug}/tasks/{task['prompt_id']}/submit/?next=1",
            json.dumps(body), content_type="application/json",
        )  # fmt: skip
    assert response.status_code == 201, response.content
    stored = Annotation.objects.get(annotator=user, prompt_id=task["prompt_id"])
    assert stored.pk == response.json()["id"]
    # The flush could not be queued: the pending row waits for the sweep, which catches up.
    assert PendingConsensus.objects.filter(prompt_id=task["prompt_id"]).exists()
    assert pending_consensus_sweep() == {world["project"].pk: 1}
    assert PromptConsensus.objects.get(prompt_id=task["prompt_id"]).n_judgements == 1


def test_an_api_submission_is_acknowledged_and_a_retry_says_why(
    redis_down, world, django_capture_on_commit_callbacks
):
    slug, user = world["project"].slug, world["annotator"]
    client = api_client(user)
    task = client.post(f"/api/v1/projects/{slug}/tasks/next/").json()
    url = f"/api/v1/projects/{slug}/tasks/{task['prompt_id']}/submit/"
    # What runs after the commit (the flush marker, the flush message) runs in the request.
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"ranking": FORWARD}, format="json")
    assert first.status_code == 201, first.content
    assert Annotation.objects.filter(annotator=user).count() == 1
    again = client.post(url, {"ranking": FORWARD}, format="json")
    assert again.status_code == 409  # stored once, and it said so the first time


def test_a_reviewer_adjudicates_while_redis_is_down(redis_down, client, world):
    prompt = world["prompts"][1]
    prompt.annotations.create(annotator=world["annotator"], ranking=FORWARD)
    client.force_login(world["reviewer"])
    # The review page's widget posts here with the session (issue 15: one surface).
    url = f"/api/v1/projects/{world['project'].slug}/prompts/{prompt.pk}/adjudicate/"
    body = {"ranking": [["D"], ["C"], ["B"], ["A"]]}
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 201, response.content[:500]
    assert Adjudication.objects.filter(prompt=prompt).count() == 1


def assert_503_nothing_written(response, *models):
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["error"] == "broker_unavailable"
    assert "nothing was saved" in body["detail"]
    assert response["Retry-After"]
    for model in (*models, apps.get_model("core", "OutboxMessage")):
        assert not model.objects.exists(), model


def test_work_that_needs_the_broker_answers_503_and_writes_nothing(redis_down, world, tmp_path):
    slug, project = world["project"].slug, world["project"]
    admin = api_client(world["admin"])
    response = admin.post("/api/v1/snapshots/", {"project": slug, "format": "rankings"})
    assert_503_nothing_written(response, DatasetSnapshot)

    engineer = api_client(world["engineer"])
    model_dir = tmp_path / "base-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    snapshot = snapshot_make(project)
    response = engineer.post(
        "/api/v1/training-runs/",
        {"kind": "reward_model", "base_model": str(model_dir), "snapshot": snapshot.pk},
        format="json",
    )
    assert_503_nothing_written(response, TrainingRun)

    response = engineer.post(
        "/api/v1/generations/",
        {"project": project.pk, "prompts": ["Say hi"], "k": 2, "model_path": str(model_dir)},
        format="json",
    )
    assert_503_nothing_written(response, GenerationJob)

    reviewer = api_client(world["reviewer"])
    response = reviewer.post(f"/api/v1/projects/{slug}/agreement/recompute/")
    assert_503_nothing_written(response)


def test_resume_with_the_broker_down_leaves_the_run_as_it_was(redis_down, world):
    run = TrainingRun.objects.create(
        kind="reward_model", snapshot=snapshot_make(world["project"]), base_model="/m",
        status="failed", error="worker lost", last_checkpoint="/c/step-4", attempts=1,
        celery_task_id="t-1",
    )  # fmt: skip
    response = api_client(world["engineer"]).post(f"/api/v1/training-runs/{run.pk}/resume/")
    assert response.status_code == 503, response.content
    run.refresh_from_db()
    assert (run.status, run.error, run.celery_task_id) == ("failed", "worker lost", "t-1")


def test_the_admin_export_page_answers_503_and_writes_nothing(redis_down, client, world):
    client.force_login(world["admin"])
    response = client.post(
        reverse("admin:exports_new"),
        {"project": world["project"].pk, "format": "rankings", "mode": "consensus",
         "ties": "keep", "seed": 0, "train": 1, "validation": 0, "test": 0},
    )  # fmt: skip
    assert response.status_code == 503, response.content[:300]
    assert b"nothing was saved" in response.content
    assert not DatasetSnapshot.objects.exists()


def test_healthz_names_each_dependency_and_fails_while_redis_is_down(redis_down, client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    checks = body["checks"]
    assert checks["database"]["ok"] is True
    assert checks["cache"]["ok"] is False and checks["cache"]["needed"] is True
    assert checks["broker"]["ok"] is False and checks["broker"]["needed"] is True
    assert "error" in checks["cache"] and "error" in checks["broker"]
    # A load balancer that keeps annotators served asks about the database only.
    only_db = client.get("/healthz?needs=database")
    assert only_db.status_code == 200 and only_db.json()["status"] == "degraded"
    assert client.get("/healthz?needs=disk").status_code == 400


def test_healthz_is_ok_when_every_needed_dependency_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())

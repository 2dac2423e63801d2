"""The training-run API without training: validation, permissions, state transitions, routing.

Runs created here are queued but never executed (their on-commit task is captured, not run),
so these tests need no torch.
"""

import pytest
from django.urls import reverse

from annotate.models import Membership
from core.roles import Roles
from tests.factories import ProjectFactory, UserFactory
from tests.training.helpers import client_for, engineer, snapshot_make
from training.models import TrainingMetric, TrainingRun

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/training-runs/"


@pytest.fixture
def model_dir(tmp_path):
    """Enough of a model directory for request validation (nothing loads it here)."""
    path = tmp_path / "base"
    path.mkdir()
    (path / "config.json").write_text("{}")
    return str(path)


@pytest.fixture
def project():
    return ProjectFactory()


@pytest.fixture
def mle(project):
    return engineer(project)


def start(client, body, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(RUNS, body, format="json")
    return response, queued


def fields(response) -> dict:
    body = response.json()
    assert set(body) >= {"error", "detail", "fields"}, body
    return body["fields"]


def test_start_reward_model_run_answers_202_and_queues_one_task(
    mle, project, model_dir, django_capture_on_commit_callbacks
):
    snapshot = snapshot_make(project)
    response, queued = start(
        client_for(mle),
        {"kind": "reward_model", "name": "rm-a", "snapshot": snapshot.pk,
         "base_model": model_dir, "config": {"max_steps": 3}},
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert response.status_code == 202, response.content
    body = response.json()
    run = TrainingRun.objects.get(pk=body["id"])
    assert body["status"] == run.status == "queued"
    assert run.created_by == mle and run.snapshot == snapshot
    assert run.artifact_path == f"runs/{run.pk}"
    assert run.config == {"max_steps": 3}
    assert body["celery_task_id"] == run.celery_task_id != ""
    assert len(queued) == 1  # the GPU task, sent once the transaction commits


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"config": {"max_step": 3}}, "config.max_step"),
        ({"config": {"train_file": "/etc/passwd"}}, "config.train_file"),
        ({"config": {"batch_size": 0}}, "config.batch_size"),
        ({"config": "max_steps=3"}, "config"),
        ({"kind": "sft"}, "kind"),
        ({"base_model": "/nonexistent/model"}, "base_model"),
        ({"snapshot": None}, "snapshot"),
        ({"snapshot": 999999}, "snapshot"),
        ({"reward_model": 1}, "reward_model"),
        ({"epochs": 3}, "epochs"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    mle, project, model_dir, body, field, django_capture_on_commit_callbacks
):
    snapshot = snapshot_make(project)
    request = {"kind": "reward_model", "snapshot": snapshot.pk, "base_model": model_dir, **body}
    response, queued = start(client_for(mle), request, django_capture_on_commit_callbacks)
    assert response.status_code == 400, response.content
    assert field in fields(response), response.json()
    assert not queued and not TrainingRun.objects.exists()


def test_snapshot_must_be_ready_trainable_and_in_my_projects(
    mle, project, model_dir, django_capture_on_commit_callbacks
):
    cases = [
        snapshot_make(project, status="failed"),
        snapshot_make(project, fmt="hf"),
        snapshot_make(ProjectFactory()),  # a project the engineer is not a member of
    ]
    for snapshot in cases:
        response, _ = start(
            client_for(mle),
            {"kind": "reward_model", "snapshot": snapshot.pk, "base_model": model_dir},
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 400
        assert "snapshot" in fields(response)


def test_ppo_run_needs_reward_model_and_one_prompt_set(
    mle, project, model_dir, django_capture_on_commit_callbacks
):
    from rewardmodel.models import RewardModel

    rm = RewardModel.objects.create(name="rm", path=model_dir)
    snapshot = snapshot_make(project)
    client = client_for(mle)
    base = {"kind": "ppo", "base_model": model_dir}
    response, _ = start(client, {**base, "prompt_project": project.pk},
                        django_capture_on_commit_callbacks)  # fmt: skip
    assert "reward_model" in fields(response)
    response, _ = start(
        client,
        {**base, "reward_model": rm.pk, "prompt_project": project.pk, "snapshot": snapshot.pk},
        django_capture_on_commit_callbacks,
    )
    assert "prompt_project" in fields(response)
    response, _ = start(
        client, {**base, "reward_model": rm.pk, "prompt_project": project.pk},
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert "prompt_project" in fields(response)  # the project has no prompts yet
    response, queued = start(
        client,
        {**base, "reward_model": rm.pk, "snapshot": snapshot.pk, "config": {"kl_coef": 0.1}},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.content
    assert response.json()["reward_model"] == rm.pk and len(queued) == 1


@pytest.mark.parametrize(
    ("user", "status"),
    [(None, 401), (Roles.ANNOTATOR, 403), (Roles.REVIEWER, 403), (Roles.ML_ENGINEER, 202),
     (Roles.ADMIN, 202)],
)  # fmt: skip
def test_who_may_start_a_run(project, model_dir, user, status, django_capture_on_commit_callbacks):
    snapshot = snapshot_make(project)
    if user is not None:
        user = UserFactory(roles=[user])
        project.memberships.create(user=user)
    response, _ = start(
        client_for(user),
        {"kind": "reward_model", "snapshot": snapshot.pk, "base_model": model_dir},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == status, response.content
    assert TrainingRun.objects.count() == (1 if status == 202 else 0)


def queued_run(snapshot, **fields) -> TrainingRun:
    run = TrainingRun.objects.create(
        kind="reward_model", snapshot=snapshot, base_model="/m", artifact_path="runs/x", **fields
    )
    return run


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), (Roles.ANNOTATOR, 403), (Roles.REVIEWER, 403), (Roles.ML_ENGINEER, 200),
     (Roles.ADMIN, 200)],
)  # fmt: skip
def test_who_may_read_and_act(project, role, status, django_capture_on_commit_callbacks):
    run = queued_run(snapshot_make(project))
    user = UserFactory(roles=[role]) if role else None
    if role in (Roles.ML_ENGINEER, Roles.REVIEWER, Roles.ANNOTATOR):  # members of the project
        Membership.objects.create(project=project, user=user)
    client = client_for(user)
    reads = [
        RUNS,
        f"{RUNS}{run.pk}/",
        f"{RUNS}{run.pk}/metrics",
        f"{RUNS}{run.pk}/samples",
        "/api/v1/reward-models/",
        "/api/v1/policies/",
        "/api/v1/generations/",
    ]
    for url in reads:
        response = client.get(url)
        assert response.status_code == status, (url, response.content)
        if status >= 400:
            fields(response)  # the API's one error shape
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"{RUNS}{run.pk}/cancel")
    assert response.status_code == (202 if status == 200 else status)


def test_cancel_queued_run_is_immediate_and_then_409(mle, project):
    run = queued_run(snapshot_make(project))
    client = client_for(mle)
    response = client.post(f"{RUNS}{run.pk}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    run.refresh_from_db()
    assert run.status == "cancelled" and run.cancel_requested and run.finished_at
    response = client.post(f"{RUNS}{run.pk}/cancel/")  # the trailing-slash form works too
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_cancel_running_run_only_raises_the_flag(mle, project):
    run = queued_run(snapshot_make(project), status="running")
    response = client_for(mle).post(f"{RUNS}{run.pk}/cancel")
    assert response.status_code == 202
    run.refresh_from_db()
    assert run.status == "running" and run.cancel_requested


def test_resume_needs_a_finished_unsuccessful_run_with_a_checkpoint(
    mle, project, django_capture_on_commit_callbacks
):
    snapshot = snapshot_make(project)
    client = client_for(mle)
    no_ckpt = queued_run(snapshot, status="failed")
    assert client.post(f"{RUNS}{no_ckpt.pk}/resume").status_code == 409
    running = queued_run(snapshot, status="running", last_checkpoint="/c/step-2")
    assert client.post(f"{RUNS}{running.pk}/resume").status_code == 409
    run = queued_run(
        snapshot, status="cancelled", cancel_requested=True, last_checkpoint="/c/step-2",
        celery_task_id="old", error="x",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(f"{RUNS}{run.pk}/resume")
    assert response.status_code == 202, response.content
    run.refresh_from_db()
    assert run.status == "queued" and not run.cancel_requested and run.error == ""
    assert run.celery_task_id not in ("", "old")  # the old message is now ignored
    assert len(queued) == 1
    assert client.post(f"{RUNS}999999/resume").status_code == 404


def test_metrics_endpoint_returns_new_points_only(mle, project):
    run = queued_run(snapshot_make(project), status="running", step=2, total_steps=4)
    first = TrainingMetric.objects.create(run=run, step=1, values={"loss": 0.7})
    TrainingMetric.objects.create(run=run, step=2, values={"loss": 0.6})
    client = client_for(mle)
    body = client.get(f"{RUNS}{run.pk}/metrics").json()
    assert [p["step"] for p in body["points"]] == [1, 2]
    assert body["progress"] == {"step": 2, "total_steps": 4, "fraction": 0.5, "eta_seconds": None}
    body = client.get(f"{RUNS}{run.pk}/metrics", {"after": first.pk}).json()
    assert [p["values"] for p in body["points"]] == [{"loss": 0.6}]
    response = client.get(f"{RUNS}{run.pk}/metrics", {"after": "x"})
    assert response.status_code == 400 and "after" in fields(response)


def test_list_filters_by_kind_and_status(mle, project):
    snapshot = snapshot_make(project)
    done = queued_run(snapshot, status="succeeded")
    queued_run(snapshot)
    client = client_for(mle)
    assert len(client.get(RUNS).json()["results"]) == 2
    body = client.get(RUNS, {"status": "succeeded"}).json()
    assert [r["id"] for r in body["results"]] == [done.pk]
    assert client.get(RUNS, {"kind": "ppo"}).json()["results"] == []


def test_tasks_route_training_to_gpu_and_the_reaper_elsewhere():
    from config.celery import app
    from training import tasks

    def queue_of(task):
        return app.amqp.router.route(dict(task._get_exec_options()), task.name)["queue"].name

    assert queue_of(tasks.training_run_execute) == "gpu"
    assert queue_of(tasks.generation_job_execute) == "gpu"
    assert queue_of(tasks.training_runs_reap_stale) == "default"
    assert tasks.training_run_execute.acks_late and tasks.training_run_execute.reject_on_worker_lost
    assert tasks.training_run_execute.time_limit is None


def test_openapi_schema_lists_the_endpoints(mle):
    client = client_for(mle)
    response = client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/training-runs/", "/api/v1/training-runs/{id}/cancel/",
                 "/api/v1/reward-models/{id}/score/", "/api/v1/generations/"):  # fmt: skip
        assert path in paths, sorted(paths)

"""Training-run start, cancel and resume, and registering a model by hand, are in the audit log
(the worker's registrations are checked in test_lifecycle.py, where runs really train)."""

import pytest

from core.models import AuditEvent
from rewardmodel.models import RewardModel
from tests.factories import ProjectFactory, UserFactory
from tests.training.helpers import client_for, engineer, snapshot_make
from training.models import Policy, TrainingRun

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/training-runs/"


def test_start_cancel_resume(tmp_path, django_capture_on_commit_callbacks):
    project = ProjectFactory(slug="birds")
    mle = engineer(project)
    snapshot = snapshot_make(project)
    (tmp_path / "config.json").write_text("{}")
    client = client_for(mle)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(RUNS, {"kind": "reward_model", "name": "rm-a",
                                      "snapshot": snapshot.pk, "base_model": str(tmp_path),
                                      "config": {"max_steps": 3}}, format="json")  # fmt: skip
    assert response.status_code == 202, response.content
    run = TrainingRun.objects.get()
    started = AuditEvent.objects.get(action="training_run.start")
    assert (started.object_type, started.object_id) == ("training.trainingrun", str(run.pk))
    assert (started.actor, started.source, started.project_slug) == (mle, "api", "birds")
    assert started.after["snapshot"] == snapshot.pk and started.after["config"] == {"max_steps": 3}

    assert client.post(f"{RUNS}{run.pk}/cancel").status_code == 202
    cancelled = AuditEvent.objects.get(action="training_run.cancel")
    assert cancelled.before == {"status": "queued", "cancel_requested": False}
    assert cancelled.after == {"status": "cancelled", "cancel_requested": True}
    assert client.post(f"{RUNS}{run.pk}/cancel").status_code == 409
    assert AuditEvent.objects.filter(action="training_run.cancel").count() == 1

    TrainingRun.objects.filter(pk=run.pk).update(last_checkpoint="/c/step-2")
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post(f"{RUNS}{run.pk}/resume").status_code == 202
    resumed = AuditEvent.objects.get(action="training_run.resume")
    assert resumed.before == {"status": "cancelled", "last_checkpoint": "/c/step-2"}
    assert resumed.after == {"status": "queued", "last_checkpoint": "/c/step-2"}


def test_admin_registers_models_trained_elsewhere(client):
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    response = client.post("/admin/rewardmodel/rewardmodel/add/",
                           {"name": "external-rm", "path": "/models/rm", "base_model": "gpt2",
                            "metrics": "{}", "card": "{}"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[-2000:]
    model = RewardModel.objects.get(name="external-rm")
    event = AuditEvent.objects.get(action="reward_model.register")
    assert (event.object_id, event.actor, event.source) == (str(model.pk), boss, "admin")
    assert event.after["training_run"] is None and model.created_by == boss

    response = client.post("/admin/training/policy/add/",
                           {"name": "external-policy", "path": "/models/p", "base_model": "gpt2",
                            "metrics": "{}", "card": "{}"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[-2000:]
    policy = Policy.objects.get(name="external-policy")
    assert AuditEvent.objects.get(action="policy.register").object_id == str(policy.pk)

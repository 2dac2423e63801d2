"""Training runs, reward models, policies and generation jobs belong to projects: an ML engineer
sees and acts on those of their own projects only (admins on all), in the API and the pages.

Each test here reproduces what an ML engineer outside the project could do before: list other
projects' runs, read their metrics and samples, list generation jobs with their prompt texts,
cancel another project's run, train or generate with another project's models.
"""

import pytest

from core.roles import Roles
from rewardmodel.models import RewardModel
from tests.factories import ProjectFactory
from tests.training.helpers import client_for, engineer, snapshot_make, user_with
from training.models import GenerationJob, Policy, TrainingMetric, TrainingRun, TrainingSample

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(tmp_path):
    """Another team's project with one of everything, each named "secret"."""
    (tmp_path / "config.json").write_text("{}")
    project = ProjectFactory(slug="theirs")
    snapshot = snapshot_make(project)
    run = TrainingRun.objects.create(
        kind="reward_model", name="secret-rm-run", snapshot=snapshot, base_model=str(tmp_path)
    )
    TrainingMetric.objects.create(run=run, step=1, values={"loss": 0.5})
    reward_model = RewardModel.objects.create(
        name="secret-rm", path=str(tmp_path), snapshot=snapshot, training_run=run
    )
    ppo = TrainingRun.objects.create(
        kind="ppo", name="secret-ppo", reward_model=reward_model, prompt_project=project,
        base_model=str(tmp_path), status="succeeded",
    )  # fmt: skip
    TrainingSample.objects.create(run=ppo, step=0, prompt="secret prompt", response="r", score=1)
    policy = Policy.objects.create(
        name="secret-policy", path=str(tmp_path), training_run=ppo, reward_model=reward_model
    )
    job = GenerationJob.objects.create(
        project=project, policy=policy, model_path="x", model_name="p", k=2,
        prompts=[{"prompt": "secret prompt text"}],
    )  # fmt: skip
    return {"project": project, "snapshot": snapshot, "run": run, "ppo": ppo, "policy": policy,
            "reward_model": reward_model, "job": job, "dir": str(tmp_path)}  # fmt: skip


@pytest.fixture
def loner():
    """An ML engineer in no project at all."""
    return user_with(Roles.ML_ENGINEER)


LISTS = ["/api/v1/training-runs/", "/api/v1/reward-models/", "/api/v1/policies/",
         "/api/v1/generations/"]  # fmt: skip


def test_an_engineer_in_no_project_lists_nothing(theirs, loner):
    client = client_for(loner)
    for url in LISTS:
        response = client.get(url)
        assert response.status_code == 200 and response.json()["results"] == [], url
        assert b"secret" not in response.content


def test_members_list_their_projects_objects_and_admins_all(theirs):
    member = client_for(engineer(theirs["project"]))
    admin = client_for(user_with(Roles.ADMIN))
    for client in (member, admin):
        names = {r["name"] for r in client.get("/api/v1/training-runs/").json()["results"]}
        assert names == {"secret-rm-run", "secret-ppo"}
        jobs = client.get("/api/v1/generations/").json()["results"]
        assert [j["id"] for j in jobs] == [theirs["job"].pk]


def test_an_engineer_of_another_project_reaches_no_object_by_id(theirs):
    client = client_for(engineer(ProjectFactory()))
    run, ppo = theirs["run"], theirs["ppo"]
    urls = [f"/api/v1/training-runs/{run.pk}/", f"/api/v1/training-runs/{run.pk}/metrics",
            f"/api/v1/training-runs/{ppo.pk}/samples", f"/api/v1/policies/{theirs['policy'].pk}/",
            f"/api/v1/reward-models/{theirs['reward_model'].pk}/",
            f"/api/v1/generations/{theirs['job'].pk}/"]  # fmt: skip
    for url in urls:
        response = client.get(url)
        unknown = client.get(url.replace(f"/{url.split('/')[4]}/", "/999999/"))
        assert response.status_code == unknown.status_code == 404, url
        assert b"secret" not in response.content
    score = client.post(
        f"/api/v1/reward-models/{theirs['reward_model'].pk}/score", {"bad": 1}, format="json"
    )
    assert score.status_code == 404  # before the body is looked at


def test_cancel_and_resume_of_another_projects_run_are_404_and_change_nothing(
    theirs, django_capture_on_commit_callbacks
):
    client = client_for(engineer(ProjectFactory()))
    run = theirs["run"]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert client.post(f"/api/v1/training-runs/{run.pk}/cancel").status_code == 404
        assert client.post(f"/api/v1/training-runs/{run.pk}/resume").status_code == 404
    run.refresh_from_db()
    assert run.status == "queued" and not run.cancel_requested and queued == []


def test_another_projects_models_cannot_be_trained_against_or_generated_with(
    theirs, django_capture_on_commit_callbacks
):
    mine = ProjectFactory()
    client = client_for(engineer(mine))
    mine_snapshot = snapshot_make(mine)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        ppo = client.post("/api/v1/training-runs/", {
            "kind": "ppo", "base_model": theirs["dir"], "reward_model": theirs["reward_model"].pk,
            "snapshot": mine_snapshot.pk}, format="json")  # fmt: skip
        gen = client.post("/api/v1/generations/", {
            "project": mine.pk, "policy": theirs["policy"].pk, "prompts": ["x"], "k": 2},
            format="json")  # fmt: skip
        gen_run = client.post("/api/v1/generations/", {
            "project": mine.pk, "training_run": theirs["ppo"].pk, "prompts": ["x"], "k": 2},
            format="json")  # fmt: skip
    assert ppo.status_code == 400 and "reward_model" in ppo.json()["fields"]
    assert gen.status_code == 400 and "policy" in gen.json()["fields"]
    assert gen_run.status_code == 400 and "training_run" in gen_run.json()["fields"]
    # The refusal reads as for an id that does not exist: nothing to tell them apart.
    assert str(theirs["reward_model"].pk) in ppo.json()["fields"]["reward_model"]
    assert "secret" not in ppo.content.decode() + gen.content.decode() + gen_run.content.decode()
    assert queued == [] and TrainingRun.objects.filter(kind="ppo").count() == 1


def test_a_reward_model_registered_without_a_snapshot_is_shared(loner, tmp_path):
    """A model trained elsewhere and registered by hand belongs to no project: every ML
    engineer may see it and use it (docs/api.md, Security decisions)."""
    shared = RewardModel.objects.create(name="shared-rm", path=str(tmp_path))
    names = [r["name"] for r in client_for(loner).get("/api/v1/reward-models/").json()["results"]]
    assert names == ["shared-rm"]
    assert client_for(loner).get(f"/api/v1/reward-models/{shared.pk}/").status_code == 200


def test_the_pages_show_only_the_users_projects(client, theirs):
    outsider = engineer(ProjectFactory())
    client.force_login(outsider)
    html = client.get("/training/runs/").content.decode()
    assert "secret" not in html
    assert client.get(f"/training/runs/{theirs['run'].pk}/").status_code == 404
    client.force_login(engineer(theirs["project"]))
    html = client.get("/training/runs/").content.decode()
    assert "secret-rm-run" in html and "secret-rm" in html and "secret-policy" in html
    assert client.get(f"/training/runs/{theirs['run'].pk}/").status_code == 200

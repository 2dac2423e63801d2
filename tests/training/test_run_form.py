"""The "New run" form: what it offers (from the trainers' dataclasses and the model roots),
what it starts (through training_run_start, as the API), and its errors in place."""

from __future__ import annotations

import dataclasses
import html as html_lib
import json

import pytest

from annotate.models import Membership
from core.roles import Roles
from rlhf.config import RewardConfig
from tests.training.helpers import engineer, snapshot_make, user_with
from training import run_form
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def models_root(tmp_path, settings):
    root = tmp_path / "models"
    for name in ("tiny-gpt2", "org/other"):
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_text("{}")
    (root / "not-a-model").mkdir()
    settings.RANKWISE_MODEL_ROOTS = [str(root)]
    return root


@pytest.fixture
def snapshot():
    return snapshot_make()


def page(snapshot) -> str:
    return f"/projects/{snapshot.project.slug}/runs/new/"


def test_options_come_from_the_trainer_dataclass_with_its_help_and_defaults():
    options = {o.name: o for o in run_form.run_form_options("reward_model")}
    fields = {f.name: f for f in dataclasses.fields(RewardConfig)}
    assert options["learning_rate"].default == fields["learning_rate"].default
    assert options["learning_rate"].type == "float" and options["batch_size"].type == "int"
    assert options["learning_rate"].help == "Peak AdamW learning rate."
    assert options["checkpoint_every"].default == 100  # the server's default, not the trainer's
    assert options["labels"].choices == ("annotations", "consensus")
    ppo = {o.name: o for o in run_form.run_form_options("ppo")}
    assert ppo["kl_coef"].help.startswith("beta in r = score")  # a trailing comment
    assert ppo["lora"].type == "bool"


def test_base_models_are_the_model_directories_of_the_roots(models_root):
    assert run_form.base_model_choices() == [str(models_root / "org/other"),
                                             str(models_root / "tiny-gpt2")]  # fmt: skip


def test_the_form_lists_snapshots_models_and_the_request_json(client, snapshot, models_root):
    client.force_login(engineer(snapshot.project))
    response = client.get(page(snapshot))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{snapshot.pk}"' in html
    assert str(models_root / "tiny-gpt2") in html and "not-a-model" not in html
    assert "Peak AdamW learning rate." in html
    assert "&quot;kind&quot;: &quot;reward_model&quot;" in html and "training/run_new.js" in html
    assert "Make a new rankings snapshot" not in html  # snapshots are for admins


def test_submitting_starts_the_run_through_the_service(client, snapshot, models_root):
    client.force_login(engineer(snapshot.project))
    base = str(models_root / "tiny-gpt2")
    response = client.post(page(snapshot), {
        "kind": "reward_model", "name": "from-form", "base_model": base,
        "snapshot": snapshot.pk, "reward_model.max_steps": "5",
        "reward_model.learning_rate": "1e-4", "reward_model.labels": "consensus",
    })  # fmt: skip
    run = TrainingRun.objects.get(name="from-form")
    assert response.status_code == 302 and response["Location"] == f"/training/runs/{run.pk}/"
    assert run.status == "queued" and run.base_model == base and run.snapshot_id == snapshot.pk
    assert run.config["max_steps"] == 5 and run.config["learning_rate"] == 1e-4
    assert run.config["labels"] == "consensus"


def test_errors_are_shown_in_place_with_the_apis_messages(client, snapshot, models_root):
    client.force_login(engineer(snapshot.project))
    response = client.post(page(snapshot), {
        "kind": "reward_model", "base_model": str(models_root / "tiny-gpt2"),
        "snapshot": snapshot.pk, "reward_model.batch_size": "lots",
    })  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="error-config-batch_size"' in html and "config.batch_size:" in html
    assert 'value="lots"' in html  # what was typed stays in the field
    assert not TrainingRun.objects.exists()
    # The same request through the API names the same field with the same message.
    from tests.training.helpers import client_for

    api = client_for(engineer(snapshot.project)).post("/api/v1/training-runs/", {
        "kind": "reward_model", "base_model": str(models_root / "tiny-gpt2"),
        "snapshot": snapshot.pk, "config": {"batch_size": "lots"},
    }, format="json")  # fmt: skip
    message = api.json()["fields"]["config.batch_size"]
    assert html_lib.escape(message) in html


def test_a_path_outside_the_roots_is_refused(client, snapshot, models_root, tmp_path):
    client.force_login(engineer(snapshot.project))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text("{}")
    response = client.post(page(snapshot), {"kind": "reward_model", "base_model": str(elsewhere),
                                            "snapshot": snapshot.pk})  # fmt: skip
    assert response.status_code == 400
    assert 'id="error-base_model"' in response.content.decode()
    assert not TrainingRun.objects.exists()


def test_a_snapshot_of_another_project_is_refused_naming_the_field(client, snapshot, models_root):
    client.force_login(engineer(snapshot.project))
    other = snapshot_make()
    response = client.post(page(snapshot), {
        "kind": "reward_model", "base_model": str(models_root / "tiny-gpt2"),
        "snapshot": other.pk,
    })  # fmt: skip
    assert response.status_code == 400
    assert f"no snapshot {other.pk} in your projects" in response.content.decode()


def test_admins_may_queue_a_snapshot_from_the_form(client, snapshot, models_root):
    admin = user_with(Roles.ADMIN)
    Membership.objects.create(project=snapshot.project, user=admin)
    client.force_login(admin)
    assert "Make a new rankings snapshot" in client.get(page(snapshot)).content.decode()
    response = client.post(page(snapshot) + "snapshot")
    assert response.status_code == 302
    assert snapshot.project.snapshots.count() == 2


def test_the_request_json_on_the_page_is_accepted_by_the_api(client, snapshot, models_root):
    """What the page shows for copy-paste is a request the API takes as it is."""
    from tests.training.helpers import client_for

    user = engineer(snapshot.project)
    client.force_login(user)
    html = client.get(page(snapshot) + f"?snapshot={snapshot.pk}&base_model="
                      f"{models_root / 'tiny-gpt2'}").content.decode()  # fmt: skip
    start = html.index('<pre id="config-json">') + len('<pre id="config-json">')
    body = json.loads(html_lib.unescape(html[start : html.index("</pre>", start)]))
    assert body["snapshot"] == snapshot.pk and set(body["config"]) >= {"learning_rate", "seed"}
    response = client_for(user).post("/api/v1/training-runs/", body, format="json")
    assert response.status_code == 202, response.content


def test_the_page_exists_only_for_members(client, snapshot, models_root):
    client.force_login(engineer(snapshot_make().project))
    assert client.get(page(snapshot)).status_code == 404


def test_a_ppo_run_on_the_projects_prompts(client, snapshot, models_root):
    from rewardmodel.models import RewardModel
    from tests.factories import PromptFactory

    PromptFactory(project=snapshot.project)
    rm = RewardModel.objects.create(name="rm", path="x", snapshot=snapshot)
    client.force_login(engineer(snapshot.project))
    response = client.post(page(snapshot), {
        "kind": "ppo", "base_model": str(models_root / "tiny-gpt2"), "reward_model": rm.pk,
        "prompt_source": "project", "ppo.total_steps": "3", "ppo.lora": "on",
        "reward_model.max_steps": "99",  # the other kind's fields are not sent
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    run = TrainingRun.objects.get()
    assert (run.kind, run.reward_model_id, run.prompt_project_id, run.snapshot_id) == (
        "ppo",
        rm.pk,
        snapshot.project.pk,
        None,
    )
    assert run.config["total_steps"] == 3 and run.config["lora"] is True
    assert "max_steps" not in run.config

import pytest

from core.roles import Roles
from rewardmodel.models import RewardModel
from tests.training.helpers import engineer, snapshot_make, user_with
from training.models import TrainingMetric, TrainingRun, TrainingSample
from training.selectors import training_run_eval_change, training_run_samples_by_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    run = TrainingRun.objects.create(
        kind="reward_model", name="my-rm", snapshot=snapshot_make(), base_model="/m",
        status="running", step=3, total_steps=6, config={"max_steps": 6},
        log_tail="step 3 done", artifact_path="runs/1",
    )  # fmt: skip
    TrainingMetric.objects.create(run=run, step=3, values={"loss": 0.5})
    return run


def test_engineer_sees_the_list_and_the_live_run_page(client, run):
    client.force_login(engineer(run.snapshot.project))
    html = client.get("/training/runs/").content.decode()
    assert "my-rm" in html and f"/training/runs/{run.pk}/" in html
    response = client.get(f"/training/runs/{run.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-run-url="/api/v1/training-runs/{run.pk}/"' in html
    assert f'data-metrics-url="/api/v1/training-runs/{run.pk}/metrics"' in html
    assert 'data-keys="loss"' in html and 'data-keys="accuracy"' in html
    assert "step 3 done" in html and "&quot;max_steps&quot;: 6" in html
    assert "training/run.js" in html


def test_an_engineer_of_another_project_neither_sees_nor_opens_the_run(client, run):
    client.force_login(engineer(snapshot_make().project))
    assert "my-rm" not in client.get("/training/runs/").content.decode()
    assert client.get(f"/training/runs/{run.pk}/").status_code == 404


@pytest.mark.parametrize("role", [Roles.ANNOTATOR, Roles.REVIEWER])
def test_other_roles_get_403(client, run, role):
    client.force_login(user_with(role))
    assert client.get("/training/runs/").status_code == 403
    assert client.get(f"/training/runs/{run.pk}/").status_code == 403


def test_anonymous_is_sent_to_login(client, run):
    response = client.get(f"/training/runs/{run.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_unknown_run_is_404(client):
    client.force_login(user_with(Roles.ADMIN))
    assert client.get("/training/runs/999999/").status_code == 404


def test_ppo_page_shows_each_eval_prompt_once_with_its_samples_and_their_mean(client):
    run = TrainingRun.objects.create(
        kind="ppo", name="my-ppo", base_model="/m", status="running", step=1, total_steps=4,
        reward_model=RewardModel.objects.create(name="rm", path="rm"), snapshot=snapshot_make(),
        config={}, artifact_path="runs/2",
    )  # fmt: skip
    chat = [{"role": "user", "content": "Name a bird."}]
    rows = [(0, "Why is the sky blue?", "Rayleigh scattering.", 0.5),
            (0, "Why is the sky blue?", "Because it is.", -0.3),
            (0, chat, "A parrot.", 0.25),
            (1, "Why is the sky blue?", "Light scatters.", 0.7)]  # fmt: skip
    for step, prompt, response, score in rows:
        TrainingSample.objects.create(
            run=run, step=step, prompt=prompt, response=response, score=score, length=4,
            ended_with_eos=True,
        )  # fmt: skip

    by_step = training_run_samples_by_step(run=run)
    assert [step for step, _ in by_step] == [0, 1]
    start = by_step[0][1]
    assert [g["prompt"] for g in start] == ["Why is the sky blue?", chat]
    assert [len(g["samples"]) for g in start] == [2, 1]
    assert start[0]["mean_score"] == pytest.approx(0.1)

    client.force_login(engineer(run.snapshot.project))
    html = client.get(f"/training/runs/{run.pk}/").content.decode()
    samples_part = html.split("Sample responses", 1)[1]
    assert samples_part.count("Why is the sky blue?") == 2  # once per step, not per sample
    assert 'rowspan="2"' in html and "mean reward 0.100 over 2" in html
    assert "Rayleigh scattering." in html and "Because it is." in html
    # Step 0 -> 1: the sky prompt's mean went 0.1 -> 0.7; the bird prompt has no step-1 sample.
    assert "Held-out reward, step 0 &rarr; step 1" in html
    assert "Mean change per prompt <strong>+0.600</strong>" in html and "1 of 1 prompts" in html


def test_eval_change_compares_step_0_with_the_latest_evaluation():
    def group(prompt, score):
        return {"prompt": prompt, "samples": [], "mean_score": score}

    chat = [{"role": "user", "content": "b"}]
    steps = [
        (0, [group("a", 0.0), group(chat, 1.0), group("c", 0.5), group("gone", 9.0)]),
        (5, [group("a", 0.1)]),
        (10, [group("c", 0.5), group("a", 0.2), group(chat, 1.3)]),
    ]
    change = training_run_eval_change(samples_by_step=steps)
    assert change["end_step"] == 10 and change["n"] == 3 and change["improved"] == 2
    assert [r["prompt"] for r in change["rows"]] == [chat, "a", "c"]  # biggest gain first
    assert change["mean_delta"] == pytest.approx(0.5 / 3) and change["ci95"] is not None
    assert training_run_eval_change(samples_by_step=steps[:1]) is None
    assert (
        training_run_eval_change(samples_by_step=steps[1:]) is None
    )  # no step-0 evaluation to compare with

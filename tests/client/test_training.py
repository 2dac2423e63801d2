"""Training through the client with the tiny models (Celery eager: the worker's task runs in
the live server's request thread, as in tests/training): reward model, scoring, metrics, PPO,
samples, generation for the next round, cancel and resume."""

from __future__ import annotations

import dataclasses

import pytest

from rewardmodel.models import RewardModel
from tests.training.helpers import PPO_CONFIG, RM_CONFIG
from training.models import TrainingRun
from training.progress import DatabaseCallbacks

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.train]
pytest.importorskip("torch")


@pytest.fixture
def snapshot(rw, project, rankings_file):
    rw.projects.import_file("parrots", rankings_file, progress=False)
    return rw.snapshots.create("parrots", format="rankings").wait()


def test_typed_configs_match_the_trainers_user_keys():
    """Every key a request may set is a field of the client's config, and no other: a field
    added to rlhf's configs fails here until the client learns it."""
    from rankwise_client import PPOConfig, RewardModelConfig

    from rlhf.config import RewardConfig
    from rlhf.ppo.config import PPOConfig as TrainerPPOConfig
    from training.configs import PPO, REWARD_MODEL, SERVER_KEYS

    for ours, theirs, kind in ((RewardModelConfig, RewardConfig, REWARD_MODEL),
                               (PPOConfig, TrainerPPOConfig, PPO)):  # fmt: skip
        user_keys = {f.name for f in dataclasses.fields(theirs)} - SERVER_KEYS[kind]
        assert set(ours.field_names()) == user_keys, kind
    config = RewardModelConfig(max_steps=3, lora_r=0, extra={"future_key": 1})
    assert config.to_dict() == {"max_steps": 3, "lora_r": 0, "future_key": 1}


def test_reward_model_run_watch_metrics_score_and_download(
    rw, snapshot, tiny_rm_base, capsys, tmp_path, settings, _fresh_scorers
):
    from rankwise_client import RewardModel as ClientRewardModel
    from rankwise_client import RewardModelConfig
    from rankwise_client import TrainingRun as ClientRun

    config = RewardModelConfig(**{k: v for k, v in RM_CONFIG.items()})
    run = rw.runs.start_reward_model(snapshot, tiny_rm_base, config, name="rm-client")
    assert (
        isinstance(run, ClientRun) and run.kind == "reward_model" and run.config["max_steps"] == 6
    )

    assert run.watch(poll=0.1) is run and run.status == "succeeded"
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"run {run.id} succeeded" in line and "step 6/6" in line
    assert "loss" in line and "accuracy" in line

    points = run.metrics()
    assert [p.step for p in points] == [1, 2, 3, 4, 5, 6]
    frame = run.metrics_df()
    assert list(frame["step"]) == [1, 2, 3, 4, 5, 6] and {"loss", "accuracy"} <= set(frame.columns)

    model = run.model()
    assert isinstance(model, ClientRewardModel) and model.training_run == run.id
    assert model.id == RewardModel.objects.get(training_run_id=run.id).pk
    scores = model.score("the cat sat", ["the dog ran good", "a red mat"])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    batch = rw.reward_models.score_many(model, [
        {"prompt": "the cat sat", "completions": ["the dog ran good", "a red mat"]},
        {"prompt": [{"role": "user", "content": "a dog"}], "completions": ["big"]},
    ])  # fmt: skip
    assert batch[0] == pytest.approx(scores, abs=1e-5) and len(batch[1]) == 1

    from rankwise_client import RankwiseError

    with pytest.raises(RankwiseError, match="artifacts_dir"):
        model.local_path()
    copy = model.download(tmp_path / "rm-copy", artifacts_dir=settings.ARTIFACTS_DIR)
    assert (copy / "config.json").is_file() and (copy / "rankwise_card.json").is_file()
    assert not (copy / "checkpoints").exists()
    # Over the API, on a machine without the artifacts volume: the same files, byte for byte.
    fetched = model.download(tmp_path / "rm-api", progress=False)
    copied = sorted(p.relative_to(copy) for p in copy.rglob("*") if p.is_file())
    assert sorted(p.relative_to(fetched) for p in fetched.rglob("*") if p.is_file()) == copied
    assert all((fetched / p).read_bytes() == (copy / p).read_bytes() for p in copied)
    with pytest.raises(RankwiseError, match="exists already"):
        model.download(fetched, progress=False)


def test_bad_config_key_and_finished_run_conflicts(rw, snapshot, tiny_rm_base):
    from rankwise_client import BadRequest, Conflict

    with pytest.raises(BadRequest) as caught:
        rw.runs.start_reward_model(snapshot, tiny_rm_base, {"lerning_rate": 1e-3})
    assert caught.value.fields == {
        "config.lerning_rate": "unknown reward_model config key 'lerning_rate'"
    }
    assert not TrainingRun.objects.exists()

    run = rw.runs.start_reward_model(snapshot, tiny_rm_base, RM_CONFIG).wait()
    with pytest.raises(Conflict) as caught:
        run.cancel()
    assert caught.value.status == 409 and caught.value.code == "conflict"


def test_cancel_then_resume_from_the_checkpoint(rw, snapshot, tiny_rm_base, monkeypatch):
    from rankwise_client import JobFailed

    original = DatabaseCallbacks.on_progress
    answers = []

    def on_progress(self, step, total, metrics):
        original(self, step, total, metrics)
        if step == 3 and self.attempt == 1:
            # The worker is training this run; a person cancels it from a notebook.
            answers.append(rw.runs.cancel(self.run_id).status)

    monkeypatch.setattr(DatabaseCallbacks, "on_progress", on_progress)
    run = rw.runs.start_reward_model(snapshot, tiny_rm_base, RM_CONFIG)
    with pytest.raises(JobFailed) as caught:
        run.watch(poll=0.1, progress=False)
    assert answers == ["running"]
    assert caught.value.status == "cancelled" and caught.value.obj.progress.step == 3
    assert run.refresh().last_checkpoint.endswith("step-2")

    run.resume()
    assert run.wait(poll=0.1).status == "succeeded" and run.attempts == 2
    assert [p.step for p in run.metrics()] == [1, 2, 3, 4, 5, 6]
    assert [r.id for r in rw.runs.list(kind="reward_model", status="succeeded")] == [run.id]


def test_ppo_samples_then_generate_the_next_round(rw, project, snapshot, tiny_rm_base, tiny_policy):
    from rankwise_client import GenerationJob, Policy, PPOConfig, Sample

    rm = rw.runs.start_reward_model(snapshot, tiny_rm_base, RM_CONFIG).wait().model()
    ppo = rw.runs.start_ppo(tiny_policy, rm, PPOConfig(**PPO_CONFIG), prompt_project="parrots")
    assert ppo.prompt_project == project.pk
    ppo.wait(poll=0.1)
    samples = ppo.samples()
    assert samples and all(isinstance(s, Sample) for s in samples)
    assert {s.step for s in samples} >= {0, 2}

    policy = ppo.model()
    assert isinstance(policy, Policy) and policy.training_run == ppo.id
    job = policy.generate(project, ["the cat sat", {"id": "next-1", "prompt": "a dog ran"}], k=2,
                          max_new_tokens=4)  # fmt: skip
    assert isinstance(job, GenerationJob)
    job.wait(poll=0.1)
    assert job.status == "succeeded" and job.result["prompts_created"] == 2
    new = list(rw.projects.prompts("parrots", external_id="next-1"))
    assert len(new) == 1 and len(new[0].completions) == 2
    assert new[0].completions[0].model == policy.name

"""End-to-end PPO on a tiny random Llama with a scripted reward (CPU, a few seconds each).

The reward pays for the share of the word "good" in a response; a random 2-layer model says it
about 1 time in 30, so a rise in the evaluation score is PPO's doing.
"""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from transformers import AutoModelForCausalLM  # noqa: E402

from rlhf.callbacks import RunCallbacks, StopRequested  # noqa: E402
from rlhf.ppo import train_ppo  # noqa: E402
from rlhf.ppo.checkpoint import CARD_NAME, latest_checkpoint  # noqa: E402
from rlhf.ppo.config import PPOConfig  # noqa: E402
from rlhf.ppo.models import value_model_from_policy, weights_fingerprint  # noqa: E402
from rlhf.ppo.tiny import (  # noqa: E402
    build_tiny_policy,
    build_tiny_reward_model,
    target_word_reward,
    write_tiny_prompts,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny models are all overhead: extra intra-op threads only spin, and on a shared
    # 2-core machine they make these tests several times slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("ppo_tiny")
    return {
        "policy": str(build_tiny_policy(root / "policy")),
        "chat_policy": str(build_tiny_policy(root / "chat_policy", chat_template=True)),
        "reward_model": str(build_tiny_reward_model(root / "rm")),
        "prompts": str(write_tiny_prompts(root / "prompts.jsonl", 64)),
        "chat_prompts": str(write_tiny_prompts(root / "chat.jsonl", 32, messages=True)),
    }


def tiny_config(tiny, out, **overrides) -> PPOConfig:
    settings = {
        "policy": tiny["policy"],
        "prompts_path": tiny["prompts"],
        "output_dir": str(out),
        "total_steps": 4,
        "batch_size": 8,
        "mini_batch_size": 4,
        "micro_batch_size": 4,
        "ppo_epochs": 2,
        "max_new_tokens": 6,
        "temperature": 1.0,
        "learning_rate": 3e-3,
        "num_eval_prompts": 4,
        "num_samples_logged": 2,
    }
    settings.update(overrides)
    return PPOConfig.from_dict(settings)


class Recorder(RunCallbacks):
    def __init__(self, stop_after_step: int | None = None):
        self.started, self.progress, self.samples, self.checkpoints = None, [], [], []
        self.stop_after_step = stop_after_step

    def on_start(self, total_steps, info):
        self.started = (total_steps, info)

    def on_progress(self, step, total_steps, metrics):
        self.progress.append((step, metrics))

    def on_samples(self, step, samples):
        self.samples.append((step, samples))

    def on_checkpoint(self, step, path):
        self.checkpoints.append((step, path))

    def should_stop(self):
        done = [s for s, _ in self.progress]
        return self.stop_after_step is not None and self.stop_after_step in done


def test_ppo_learns_the_scripted_reward(tiny, tmp_path):
    config = tiny_config(
        tiny,
        tmp_path / "run",
        total_steps=10,
        batch_size=16,
        mini_batch_size=8,
        micro_batch_size=8,
        ppo_epochs=4,
        max_new_tokens=8,
        num_eval_prompts=8,
        snapshot_id="snap-1",
        snapshot_sha256="ab" * 32,
        reward_model_run_id="rm-run-7",
        lineage={"project": "demo"},
    )
    rec = Recorder()
    result = train_ppo(config, rec, reward_fn=target_word_reward)

    start, final = result["eval"]["start"]["eval_score"], result["eval"]["final"]["eval_score"]
    assert final > start + 0.15, (start, final)
    scores = [m["score"] for m in result["history"]]
    assert sum(scores[-3:]) / 3 > sum(scores[:3]) / 3 + 0.1, scores
    kls = [m["kl"] for m in result["history"]]
    assert all(math.isfinite(k) for k in kls) and kls[0] == pytest.approx(0.0, abs=1e-5)
    assert 0 < kls[-1] < 50
    for key in ("entropy", "policy_loss", "value_loss", "clipfrac", "approx_kl",
                "explained_variance", "response_length", "rollout_tokens_per_s"):  # fmt: skip
        assert key in result["metrics"]

    # The reference never moved; the policy did.
    sft = AutoModelForCausalLM.from_pretrained(tiny["policy"])
    assert result["reference_fingerprint"] == weights_fingerprint(sft)
    saved = AutoModelForCausalLM.from_pretrained(config.output_dir)
    assert weights_fingerprint(saved) != weights_fingerprint(sft)

    card = json.loads((tmp_path / "run" / CARD_NAME).read_text())
    assert card["kind"] == "ppo_policy"
    assert card["snapshot_id"] == "snap-1" and card["snapshot_sha256"] == "ab" * 32
    assert card["reward_model"]["run_id"] == "rm-run-7"
    assert card["lineage"] == {"project": "demo"} and card["ppo_config"]["kl_coef"] == 0.02
    assert card["eval"]["final"]["eval_score"] == pytest.approx(final)
    assert card["code_version"]

    assert rec.started[0] == 10 and rec.started[1]["value_model_init"] == "policy"
    assert [s for s, _ in rec.progress] == list(range(11))
    splits = {s["split"] for _, batch in rec.samples for s in batch}
    assert splits == {"train", "eval"}


def test_a_value_model_from_the_policy_starts_at_zero_everywhere(tiny):
    # A random head read LM hidden states as values of several units against RM scores of a
    # few tenths: the critic's noise then drowned the advantages (SmolLM2, docs/benchmarks.md).
    value = value_model_from_policy(tiny["policy"])
    ids = torch.randint(3, value.backbone.config.vocab_size, (2, 7))
    values = value(ids, torch.ones_like(ids))
    assert values.shape == (2, 7) and torch.equal(values, torch.zeros(2, 7))
    loss = (values - 1.0).pow(2).mean()
    loss.backward()
    assert value.head.weight.grad.abs().sum() > 0  # the head learns from the first step


def test_several_samples_per_prompt_sit_side_by_side_in_a_batch(tiny, tmp_path):
    config = tiny_config(
        tiny, tmp_path / "run", total_steps=2, samples_per_prompt=4,
        score_baseline="leave_one_out", num_samples_logged=8, num_eval_prompts=0,
    )  # fmt: skip
    rec = Recorder()
    result = train_ppo(config, rec, reward_fn=target_word_reward)
    assert len(result["history"]) == 2
    for _, samples in rec.samples:
        prompts = [s["prompt"] for s in samples]
        assert len(prompts) == 8 and len(set(prompts)) == 2  # 2 prompts x 4 samples
        assert prompts[:4] == [prompts[0]] * 4 and prompts[4:] == [prompts[4]] * 4


def test_each_eval_prompt_can_be_sampled_several_times(tiny, tmp_path):
    config = tiny_config(
        tiny, tmp_path / "run", total_steps=1, num_eval_prompts=2, eval_samples_per_prompt=3
    )
    rec = Recorder()
    result = train_ppo(config, rec, reward_fn=target_word_reward)
    evals = [s for step, batch in rec.samples if step == 0 for s in batch]
    assert len(evals) == 6 and all(s["split"] == "eval" for s in evals)
    prompts = [s["prompt"] for s in evals]
    assert prompts[:3] == [prompts[0]] * 3 and prompts[3:] == [prompts[3]] * 3
    assert prompts[0] != prompts[3]
    # The reported score is the mean over all six samples.
    expected = sum(s["score"] for s in evals) / 6
    assert result["eval"]["start"]["eval_score"] == pytest.approx(expected, abs=1e-6)


def test_without_a_critic_ppo_learns_from_leave_one_out_returns(tiny, tmp_path):
    config = tiny_config(
        tiny, tmp_path / "run", total_steps=10, batch_size=16, mini_batch_size=8,
        micro_batch_size=8, ppo_epochs=4, max_new_tokens=8, num_eval_prompts=8,
        value_model_init="none", lam=1.0, samples_per_prompt=4, score_baseline="leave_one_out",
    )  # fmt: skip
    rec = Recorder()
    result = train_ppo(config, rec, reward_fn=target_word_reward)

    start, final = result["eval"]["start"]["eval_score"], result["eval"]["final"]["eval_score"]
    assert final > start + 0.15, (start, final)
    assert result["value_model_init"] == "none" and rec.started[1]["value_model_init"] == "none"
    # Only the policy trains: no second trunk, no value head.
    policy_params = sum(
        p.numel() for p in AutoModelForCausalLM.from_pretrained(tiny["policy"]).parameters()
    )
    assert rec.started[1]["trainable_parameters"] == policy_params
    metrics = result["metrics"]
    assert metrics["value_mean"] == 0 and metrics["explained_variance"] is None
    assert "value_loss" not in metrics and math.isfinite(metrics["policy_loss"])
    card = json.loads((tmp_path / "run" / CARD_NAME).read_text())
    assert card["value_model_init"] == "none"


def test_stop_checkpoint_and_resume_match_an_uninterrupted_run(tiny, tmp_path):
    straight = train_ppo(tiny_config(tiny, tmp_path / "a"), reward_fn=target_word_reward)

    rec = Recorder(stop_after_step=3)
    interrupted = tiny_config(tiny, tmp_path / "b", save_every=2)
    with pytest.raises(StopRequested):
        train_ppo(interrupted, rec, reward_fn=target_word_reward)
    assert [s for s, _ in rec.progress] == [0, 1, 2, 3]
    assert rec.checkpoints == [(2, str(tmp_path / "b" / "checkpoints" / "step-2"))]
    assert latest_checkpoint(tmp_path / "b").name == "step-2"
    assert not (tmp_path / "b" / "config.json").exists()  # stopped runs save no policy

    interrupted.resume = True
    resumed = train_ppo(interrupted, reward_fn=target_word_reward)
    assert len(resumed["history"]) == 4
    for a, b in zip(straight["history"], resumed["history"], strict=True):
        for key in ("score", "kl", "policy_loss", "value_loss"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
    wa = AutoModelForCausalLM.from_pretrained(tmp_path / "a").state_dict()
    wb = AutoModelForCausalLM.from_pretrained(tmp_path / "b").state_dict()
    for name, tensor in wa.items():
        torch.testing.assert_close(tensor, wb[name], atol=1e-5, rtol=1e-4)


def test_stop_is_checked_inside_the_update(tiny, tmp_path):
    class StopMidUpdate(RunCallbacks):
        calls = 0

        def should_stop(self):
            # Call 1: before step 1's rollout; calls 2+: before each minibatch of step 1.
            self.calls += 1
            return self.calls == 3

    cb = StopMidUpdate()
    with pytest.raises(StopRequested):
        train_ppo(tiny_config(tiny, tmp_path / "run"), cb, reward_fn=target_word_reward)
    assert cb.calls == 3


def test_lora_ptx_adaptive_kl_and_chat_prompts(tiny, tmp_path):
    ptx = tmp_path / "ptx.txt"
    ptx.write_text(" ".join(["the cat sat on the mat and the dog ran"] * 20))
    config = tiny_config(
        tiny,
        tmp_path / "run",
        policy=tiny["chat_policy"],
        prompts_path=tiny["chat_prompts"],
        total_steps=2,
        lora=True,
        lora_r=4,
        learning_rate=1e-2,
        adaptive_kl=True,
        kl_coef=0.1,
        kl_target=0.01,
        kl_horizon=100,
        missing_eos_penalty=1.0,
        ptx_coef=0.5,
        ptx_path=str(ptx),
        ptx_block_size=16,
        ptx_batch_size=2,
        gradient_checkpointing=True,
    )
    rec = Recorder()
    result = train_ppo(config, rec, reward_fn=target_word_reward)
    history = result["history"]
    assert all(math.isfinite(m["ptx_loss"]) and m["ptx_loss"] > 0 for m in history)
    # Step 1's KL is 0 (policy == reference), below the target: the adaptive coefficient
    # shrinks by the clipped error, beta * (1 - 0.2 * batch / horizon).
    assert history[0]["kl_coef"] == pytest.approx(0.1)
    assert history[1]["kl_coef"] == pytest.approx(0.1 * (1 - 0.2 * 8 / 100))
    # Missing-EOS penalty: the KL-penalised reward is at most score - 1 for cut-off responses.
    assert history[0]["reward"] < history[0]["score"]
    # Prompts went through the chat template.
    prompt = rec.samples[0][1][0]["prompt"]
    assert isinstance(prompt, list) and prompt[0]["role"] == "user"

    # The LoRA reference is the untouched base; the saved model is merged and adapter-free.
    base = AutoModelForCausalLM.from_pretrained(tiny["chat_policy"])
    assert result["reference_fingerprint"] == weights_fingerprint(base)
    saved = AutoModelForCausalLM.from_pretrained(config.output_dir)
    assert not any("lora" in k for k in saved.state_dict())
    assert weights_fingerprint(saved) != weights_fingerprint(base)


def test_reward_model_directory_scores_and_seeds_the_value_model(tiny, tmp_path):
    config = tiny_config(
        tiny, tmp_path / "run", total_steps=1, reward_model=tiny["reward_model"], bf16=True
    )
    result = train_ppo(config)  # no reward_fn: rlhf.scoring.RewardScorer on reward_model
    assert result["value_model_init"] == "reward_model"
    assert math.isfinite(result["metrics"]["score"])
    assert math.isfinite(result["metrics"]["value_loss"])


def test_bad_reward_fn_output_is_a_clear_error(tiny, tmp_path):
    config = tiny_config(tiny, tmp_path / "run", total_steps=1, num_eval_prompts=0)
    with pytest.raises(ValueError, match="returned 1 scores for 8 responses"):
        train_ppo(config, reward_fn=lambda prompts, responses: [0.0])
    with pytest.raises(ValueError, match="non-finite"):
        train_ppo(config, reward_fn=lambda p, r: [float("nan")] * len(r))
    with pytest.raises(ValueError, match="set 'reward_model' or pass reward_fn"):
        train_ppo(config)


def test_cli_trains_from_a_run_file_and_rejects_unknown_keys(tiny, tmp_path, capsys):
    from rlhf.train_ppo import main

    run = tiny_config(tiny, tmp_path / "run", total_steps=1, reward_model=tiny["reward_model"])
    path = tmp_path / "run.json"
    run.to_json(path)
    assert main(["--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["output_dir"] == str(tmp_path / "run")
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "run") is not None

    path.write_text(json.dumps({**run.to_dict(), "learning_rat": 1e-5}))
    assert main(["--config", str(path)]) == 2
    assert "'learning_rat'" in capsys.readouterr().err

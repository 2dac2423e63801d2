"""Rollout log-probs: left padding, post-EOS padding and temperature must not change them."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlhf.ppo.config import PPOConfig  # noqa: E402
from rlhf.ppo.data import encode_prompts  # noqa: E402
from rlhf.ppo.models import load_causal_lm, load_tokenizer  # noqa: E402
from rlhf.ppo.rollout import (  # noqa: E402
    Rollout,
    add_advantages,
    generate_responses,
    leave_one_out_centre,
    response_logprobs,
    sampling_config,
)
from rlhf.ppo.tiny import build_tiny_policy  # noqa: E402
from rlhf.ppo.update import lr_factor  # noqa: E402
from rlhf.utils import json_safe  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only spin on a shared machine
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    path = str(build_tiny_policy(tmp_path_factory.mktemp("rollout") / "policy"))
    return load_causal_lm(path, trainable=False), load_tokenizer(path)


def test_batched_logprobs_equal_unpadded_ones_at_temperature(policy):
    model, tok = policy
    prompts = ["the cat sat on the mat and the dog", "a"]  # very different lengths
    _, ids = encode_prompts(tok, prompts, max_length=64)
    torch.manual_seed(0)
    gen = sampling_config(tok, [tok.eos_token_id], 6, temperature=1.5, top_p=1.0)
    qr, am, ctx = generate_responses(model, tok, ids, gen, "cpu")
    batched, _ = response_logprobs(model, qr, am, ctx, 1.5, micro_batch_size=2)

    for row in range(2):
        n_resp = int(am[row, ctx:].sum())
        alone = qr[row : row + 1, ctx - len(ids[row]) : ctx + n_resp]  # no padding at all
        with torch.no_grad():
            logits = model(input_ids=alone).logits[0, len(ids[row]) - 1 : -1] / 1.5
        expected = torch.log_softmax(logits, -1).gather(1, alone[0, len(ids[row]) :, None])
        torch.testing.assert_close(batched[row, :n_resp], expected[:, 0], atol=1e-4, rtol=1e-4)


def rollout_of(scores, has_eos, logprobs, ref, values, mask):
    def f(x):
        return torch.tensor(x, dtype=torch.float32)

    return Rollout(
        prompts=["p"] * len(scores),
        responses=["r"] * len(scores),
        query_responses=torch.zeros(len(scores), 4, dtype=torch.long),
        attention_mask=torch.ones(len(scores), 4, dtype=torch.long),
        context_length=1,
        response_mask=f(mask),
        has_eos=torch.tensor(has_eos),
        scores=f(scores),
        logprobs=f(logprobs),
        ref_logprobs=f(ref),
        values=f(values),
    )


def test_missing_eos_penalty_and_kl_enter_the_rewards():
    config = PPOConfig(policy="x", prompts_path="x", output_dir="x", missing_eos_penalty=1.0)
    r = rollout_of(
        scores=[2.0, 2.0],
        has_eos=[True, False],
        logprobs=[[-1.0, -1.0, -1.0], [-1.0, -1.0, -1.0]],
        ref=[[-1.5, -1.0, -1.0], [-1.0, -1.0, -1.0]],
        values=[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        mask=[[1, 1, 0], [1, 1, 1]],
    )
    add_advantages(r, kl_coef=0.1, config=config)
    # Row 0 ended with EOS: score 2 on its last real token, -0.1 * 0.5 KL on the first.
    # Row 1 was cut off: 2 - 1 on its last token.
    torch.testing.assert_close(r.rewards, torch.tensor([[-0.05, 2.0, 0.0], [0.0, 0.0, 1.0]]))
    adv = r.advantages[r.response_mask.bool()]
    assert adv.mean().abs() < 1e-6 and (adv.std() - 1).abs() < 1e-4  # whitened
    # Zero values: A_t = r_t + 0.95 A_{t+1}, so row 0 is [-0.05 + 0.95 * 2, 2] and row 1 is
    # [0.95^2, 0.95, 1]; returns = A + V = A.
    torch.testing.assert_close(r.returns, torch.tensor([[1.85, 2.0, 0.0], [0.9025, 0.95, 1.0]]))


def test_leave_one_out_baseline_centres_each_prompt_s_samples():
    # Two prompts x 2 samples, then one prompt x 3: each score minus its siblings' mean.
    torch.testing.assert_close(
        leave_one_out_centre(torch.tensor([1.0, 3.0, 0.0, 4.0]), 2),
        torch.tensor([-2.0, 2.0, -4.0, 4.0]),
    )
    torch.testing.assert_close(
        leave_one_out_centre(torch.tensor([1.0, 2.0, 6.0]), 3), torch.tensor([-3.0, -1.5, 4.5])
    )
    config = PPOConfig(
        policy="x", prompts_path="x", output_dir="x", batch_size=4, mini_batch_size=2,
        micro_batch_size=2, samples_per_prompt=2, score_baseline="leave_one_out",
    )  # fmt: skip
    r = rollout_of(
        scores=[1.0, 3.0, 10.0, 10.0],
        has_eos=[True] * 4,
        logprobs=[[-1.0, -1.0]] * 4,
        ref=[[-1.0, -1.0]] * 4,
        values=[[0.0, 0.0]] * 4,
        mask=[[1, 1]] * 4,
    )
    add_advantages(r, kl_coef=0.1, config=config)
    # The prompt whose samples scored alike carries no reward; the other's better sample +2.
    torch.testing.assert_close(
        r.rewards, torch.tensor([[0.0, -2.0], [0.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    )


def test_lr_schedule_and_json_safe_metrics():
    config = PPOConfig(policy="x", prompts_path="x", output_dir="x", total_steps=10)
    assert [lr_factor(s, config) for s in (0, 5, 10)] == [1.0, 0.5, 0.0]
    config.warmup_steps = 2
    assert lr_factor(0, config) == 0.5
    config.lr_scheduler = "constant"
    assert lr_factor(7, config) == 1.0
    assert json_safe({"a": math.nan, "b": 1.5, "c": math.inf}) == {"a": None, "b": 1.5, "c": None}

"""PPO maths against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from rlhf.ppo.core import (  # noqa: E402
    AdaptiveKLController,
    FixedKLController,
    compute_gae,
    entropy_from_logits,
    explained_variance,
    kl_estimate,
    kl_penalised_rewards,
    last_token_index,
    logprobs_from_logits,
    masked_mean,
    masked_var,
    masked_whiten,
    policy_loss,
    value_loss,
)


def t(*rows):
    """A (len(rows), T) float tensor: t([1, 2]) is one row of two."""
    return torch.tensor(rows, dtype=torch.float32)


def close(x, expected, atol=1e-5):
    torch.testing.assert_close(
        x.detach().float(), torch.tensor(expected, dtype=torch.float32), atol=atol, rtol=1e-5
    )


def test_masked_mean_and_var_ignore_padding():
    x, mask = t([1.0, 2.0, 100.0]), t([1.0, 1.0, 0.0])
    assert masked_mean(x, mask).item() == pytest.approx(1.5)
    # unbiased: ((1-1.5)^2 + (2-1.5)^2) / (2-1) = 0.5
    assert masked_var(x, mask).item() == pytest.approx(0.5)
    assert masked_var(x, mask, unbiased=False).item() == pytest.approx(0.25)
    assert masked_mean(t([1.0, 3.0], [5.0, 7.0]), t([1.0, 1.0], [0.0, 0.0]), dim=1).tolist() == [
        2.0,
        0.0,  # an all-padding row gives 0, not NaN
    ]


def test_masked_var_needs_two_values():
    with pytest.raises(ValueError, match="at least two"):
        masked_var(t([1.0, 2.0]), t([1.0, 0.0]))


def test_whiten_with_and_without_mean_shift():
    # mean 2.5, unbiased var 5/3 -> (x - 2.5) / sqrt(5/3)
    out = masked_whiten(t([1.0, 2.0, 3.0, 4.0]), t([1.0, 1.0, 1.0, 1.0]))
    close(out, [[-1.161895, -0.387298, 0.387298, 1.161895]])
    out = masked_whiten(t([1.0, 2.0, 100.0]), t([1.0, 1.0, 0.0]))
    close(out, [[-0.707107, 0.707107, 0.0]])
    # shift_mean=False keeps the mean (2) and scales the spread: 2 -/+ 1/sqrt(2)
    out = masked_whiten(t([1.0, 3.0]), t([1.0, 1.0]), shift_mean=False)
    close(out, [[2 - 0.707107, 2 + 0.707107]])


def test_logprobs_and_entropy_from_logits():
    logits = torch.log(t([0.5, 0.25, 0.25])).unsqueeze(0)  # (1, 1, 3)
    lp = logprobs_from_logits(logits, torch.tensor([[1]]))
    assert lp.item() == pytest.approx(math.log(0.25))
    # H = -(0.5 ln 0.5 + 2 * 0.25 ln 0.25) = 1.039721
    assert entropy_from_logits(logits).item() == pytest.approx(1.039721, abs=1e-5)


def test_kl_estimators_by_hand():
    logp, ref = torch.log(t([0.5])), torch.log(t([0.25]))
    # log ratio = ln 2
    assert kl_estimate(logp, ref, "k1").item() == pytest.approx(math.log(2))
    assert kl_estimate(logp, ref, "k2").item() == pytest.approx(0.5 * math.log(2) ** 2)
    # r = ref / pi = 0.5: (r - 1) - ln r = -0.5 + ln 2
    assert kl_estimate(logp, ref, "k3").item() == pytest.approx(math.log(2) - 0.5)
    with pytest.raises(ValueError, match="unknown KL estimator"):
        kl_estimate(logp, ref, "k4")


def test_k1_and_k3_are_unbiased_estimates_of_the_true_kl():
    p, q = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.3, 0.3, 0.4])
    true_kl = float((p * (p / q).log()).sum())
    gen = torch.Generator().manual_seed(0)
    x = torch.multinomial(p, 200_000, replacement=True, generator=gen)
    logp, logq = p.log()[x], q.log()[x]
    assert kl_estimate(logp, logq, "k1").mean().item() == pytest.approx(true_kl, abs=0.01)
    assert kl_estimate(logp, logq, "k3").mean().item() == pytest.approx(true_kl, abs=0.01)
    assert (kl_estimate(logp, logq, "k3") >= 0).all()


def test_gae_gamma_one_by_hand():
    rewards, values, mask = t([0.0, 0.0, 1.0]), t([0.5, 0.6, 0.7]), t([1.0, 1.0, 1.0])
    adv, ret = compute_gae(rewards, values, mask, gamma=1.0, lam=0.95)
    # delta_2 = 1 - 0.7 = 0.3; delta_1 = 0.7 - 0.6 = 0.1; delta_0 = 0.6 - 0.5 = 0.1
    # A_2 = 0.3; A_1 = 0.1 + 0.95 * 0.3 = 0.385; A_0 = 0.1 + 0.95 * 0.385 = 0.46575
    close(adv, [[0.46575, 0.385, 0.3]])
    close(ret, [[0.96575, 0.985, 1.0]])


def test_gae_stops_at_the_end_of_a_short_response():
    # Last real token is index 1; the padding's junk reward/value must not leak back.
    rewards, values, mask = t([0.0, 1.0, 5.0]), t([0.5, 0.6, 9.0]), t([1.0, 1.0, 0.0])
    adv, ret = compute_gae(rewards, values, mask, gamma=1.0, lam=0.95)
    # A_1 = 1 + 0 - 0.6 = 0.4; A_0 = (0.6 - 0.5) + 0.95 * 0.4 = 0.48
    close(adv, [[0.48, 0.4, 0.0]])
    close(ret, [[0.98, 1.0, 0.0]])


def test_gae_with_discount():
    rewards, values, mask = t([1.0, 2.0]), t([0.0, 1.0]), t([1.0, 1.0])
    adv, _ = compute_gae(rewards, values, mask, gamma=0.9, lam=0.5)
    # delta_1 = 2 - 1 = 1; delta_0 = 1 + 0.9 * 1 - 0 = 1.9; A_0 = 1.9 + 0.45 * 1 = 2.35
    close(adv, [[2.35, 1.0]])


def test_kl_penalised_rewards_put_the_score_on_the_last_real_token():
    logp = t([-1.0, -1.0, -1.0], [-1.0, -1.0, -1.0])
    ref = t([-1.5, -0.5, -1.0], [-2.0, -1.0, -7.0])
    mask = t([1.0, 1.0, 1.0], [1.0, 1.0, 0.0])
    rewards, kl = kl_penalised_rewards(torch.tensor([1.0, 2.0]), logp, ref, mask, kl_coef=0.1)
    # kl (k1) = logp - ref: row 0 [0.5, -0.5, 0]; row 1 [1, 0, pad]
    close(kl, [[0.5, -0.5, 0.0], [1.0, 0.0, 0.0]])
    # rewards = -0.1 * kl, plus the score on the last real token (index 2 and index 1)
    close(rewards, [[-0.05, 0.05, 1.0], [-0.1, 2.0, 0.0]])
    assert last_token_index(mask).tolist() == [2, 1]


def test_clipped_policy_loss_by_hand():
    old = t([0.0, 0.0])
    new = torch.log(t([1.5, 1.5])).requires_grad_()
    adv, mask = t([1.0, -1.0]), t([1.0, 1.0])
    loss, stats = policy_loss(new, old, adv, mask, clip_range=0.2)
    # ratio 1.5. A=+1: max(-1.5, -1.2) = -1.2 (clipped). A=-1: max(1.5, 1.2) = 1.5.
    assert loss.item() == pytest.approx((-1.2 + 1.5) / 2)
    assert stats["clipfrac"].item() == pytest.approx(0.5)
    # approx KL (k3): (1.5 - 1) - ln 1.5
    assert stats["approx_kl"].item() == pytest.approx(0.5 - math.log(1.5), abs=1e-6)
    loss.backward()
    # The clipped token gets no gradient; the other gets d(-A * ratio)/dlogp / 2 = 1.5 / 2.
    close(new.grad, [[0.0, 0.75]])


def test_policy_loss_ignores_padding():
    old, new = t([0.0, 0.0]), torch.log(t([1.1, 3.0]))
    loss, _ = policy_loss(new, old, t([2.0, 100.0]), t([1.0, 0.0]))
    assert loss.item() == pytest.approx(-2.0 * 1.1)


def test_clipped_value_loss_by_hand():
    values, old, returns = t([1.0, 0.0]), t([0.5, 0.5]), t([2.0, 0.4])
    loss, stats = value_loss(values, old, returns, t([1.0, 1.0]), clip_range_value=0.2)
    # token 0: v_clip 0.7, errors 1.0 vs 1.69 -> 1.69 (clipped); token 1: v_clip 0.3,
    # errors 0.16 vs 0.01 -> 0.16. loss = 0.5 * mean(1.69, 0.16) = 0.4625
    assert loss.item() == pytest.approx(0.4625)
    assert stats["clipfrac"].item() == pytest.approx(0.5)


def test_explained_variance():
    returns, mask = t([1.0, 2.0, 3.0, 4.0]), t([1.0, 1.0, 1.0, 1.0])
    assert explained_variance(returns.clone(), returns, mask) == pytest.approx(1.0)
    assert explained_variance(torch.zeros(1, 4), returns, mask) == pytest.approx(0.0)
    assert math.isnan(explained_variance(torch.zeros(1, 2), t([1.0, 1.0]), t([1.0, 1.0])))


def test_adaptive_kl_controller_by_hand():
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10000)
    ctl.update(12.0, n_steps=64)  # error clip(12/6 - 1) = 0.2 -> x (1 + 0.2 * 64 / 10000)
    assert ctl.value == pytest.approx(0.1 * 1.00128)
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10000)
    ctl.update(6.6, n_steps=64)  # error 0.1 -> x 1.00064
    assert ctl.value == pytest.approx(0.1 * 1.00064)
    ctl.update(0.0, n_steps=64)  # error -1 clipped to -0.2 -> x 0.99872
    assert ctl.value == pytest.approx(0.1 * 1.00064 * 0.99872)
    before = ctl.value
    ctl.update(float("nan"), n_steps=64)
    assert ctl.value == before
    restored = AdaptiveKLController(0.5, target=6.0, horizon=10000)
    restored.load_state_dict(ctl.state_dict())
    assert restored.value == ctl.value
    with pytest.raises(ValueError):
        AdaptiveKLController(0.1, target=0.0, horizon=10)


def test_fixed_kl_controller_never_moves():
    ctl = FixedKLController(0.02)
    ctl.update(100.0, n_steps=64)
    assert ctl.value == 0.02

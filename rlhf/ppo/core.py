"""The maths of PPO for language models, as plain tensor functions.

Nothing here knows about models, tokenizers or optimisers, so every function can be checked
against numbers worked out by hand (tests/rlhf/test_ppo_core.py). Shapes: ``(batch, T)`` where
``T`` runs over response tokens only and ``mask`` is 1 on real response tokens (up to and
including the first EOS) and 0 on the padding after it.

References: Ouyang et al. 2022 (InstructGPT, arXiv:2203.02155) section 3.5 and appendix C.4;
Huang et al. 2024, "The N+ Implementation Details of RLHF with PPO" (arXiv:2403.17031);
Ziegler et al. 2019 (arXiv:1909.08593) for the adaptive KL coefficient; Schulman et al. 2016
for GAE; Schulman 2020, "Approximating KL divergence", for the k1/k2/k3 estimators.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    # clamp: an all-padding row must give 0, not NaN, or one empty response poisons the loss.
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim=dim) / mask.sum(dim=dim).clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of the entries of ``x`` where ``mask`` is 1 (Bessel-corrected by default)."""
    n = mask.sum()
    if n < 2 and unbiased:
        raise ValueError("masked_var needs at least two unmasked values for an unbiased estimate")
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return var * n / (n - 1) if unbiased else var


def masked_whiten(
    x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Scale ``x`` to unit variance over its masked entries; also centre it when ``shift_mean``.

    Rewards are whitened without shifting the mean (``shift_mean=False``) so that their sign,
    which tells the policy good from bad, survives; advantages are whitened with the shift.
    Padded entries come back as 0.
    """
    mean = masked_mean(x, mask)
    var = masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask


def logprobs_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log p(label) for each position: ``(B, T, V), (B, T) -> (B, T)``."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return torch.gather(logp, 2, labels.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the categorical distribution at each position: ``(B, T, V) -> (B, T)``."""
    logits = logits.float()
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def kl_estimate(
    logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: str = "k1"
) -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from tokens sampled from the policy.

    With ``log_ratio = log pi(x) - log ref(x)``:

    * ``k1`` = log_ratio: unbiased, can be negative per token; the estimator used in the reward
      by InstructGPT and the N+ reference code.
    * ``k2`` = log_ratio**2 / 2: biased, always >= 0, low variance.
    * ``k3`` = (r - 1) - log r with r = ref/pi = exp(-log_ratio): unbiased and always >= 0.
    """
    log_ratio = logprobs - ref_logprobs
    if kind == "k1":
        return log_ratio
    if kind == "k2":
        return 0.5 * log_ratio**2
    if kind == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"unknown KL estimator {kind!r}; expected 'k1', 'k2' or 'k3'")


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last 1 in each row of a left-aligned 0/1 mask (0 for an empty row)."""
    lengths = mask.long().sum(dim=1)
    return (lengths - 1).clamp(min=0)


def kl_penalised_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    kl_coef: float,
    kl_estimator: str = "k1",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards: ``-kl_coef * KL`` on every response token, plus the sequence-level
    reward-model score added on the last real token (InstructGPT eq. 2).

    Returns ``(rewards, kl)``, both ``(B, T)`` and zero on padding.
    """
    kl = kl_estimate(logprobs, ref_logprobs, kl_estimator) * mask
    rewards = -kl_coef * kl
    last = last_token_index(mask)
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards[rows, last] += scores.to(rewards.dtype) * (mask.sum(dim=1) > 0)
    return rewards, kl


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over response tokens.

    The episode ends at the last real token, so the value after it counts as 0: values and
    rewards on padding are zeroed first and the recursion runs through them harmlessly.
    Returns ``(advantages, returns)`` with ``returns = advantages + values`` (the value
    targets); both are zero on padding.
    """
    values = values * mask
    rewards = rewards * mask
    T = rewards.shape[1]
    advantages_reversed = []
    last_gae = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t < T - 1 else torch.zeros_like(values[:, 0])
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last_gae = delta + gamma * lam * last_gae
        advantages_reversed.append(last_gae)
    advantages = torch.stack(advantages_reversed[::-1], dim=1) * mask
    returns = (advantages + values) * mask
    return advantages, returns


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float = 0.2,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate objective (negated, to minimise), averaged over real tokens.

    Stats: ``clipfrac`` (share of tokens where the clipped term was the active one) and
    ``approx_kl`` (the k3 estimate of KL(old || new), a sign the step was too big).
    """
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.max(unclipped, clipped), mask)
    with torch.no_grad():
        clipfrac = masked_mean((clipped > unclipped).float(), mask)
        approx_kl = masked_mean(torch.expm1(log_ratio) - log_ratio, mask)
    return loss, {"clipfrac": clipfrac, "approx_kl": approx_kl}


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_range_value: float = 0.2,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped value loss: ``0.5 * max((v - R)^2, (v_clip - R)^2)`` averaged over real tokens,
    where ``v_clip`` keeps the new value within ``clip_range_value`` of the rollout's value."""
    clipped_values = old_values + torch.clamp(
        values - old_values, -clip_range_value, clip_range_value
    )
    unclipped_err = (values - returns) ** 2
    clipped_err = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(unclipped_err, clipped_err), mask)
    with torch.no_grad():
        clipfrac = masked_mean((clipped_err > unclipped_err).float(), mask)
    return loss, {"clipfrac": clipfrac}


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var[returns - values] / Var[returns]: 1 is a perfect critic, <= 0 a useless one."""
    var_returns = masked_var(returns, mask, unbiased=False)
    if var_returns.item() == 0:
        return float("nan")
    return float(1.0 - masked_var(returns - values, mask, unbiased=False) / var_returns)


class FixedKLController:
    """A constant KL coefficient (the default: beta = 0.02 in the N+ reproduction)."""

    def __init__(self, kl_coef: float) -> None:
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> None:
        pass

    def state_dict(self) -> dict:
        return {"value": self.value}

    def load_state_dict(self, state: dict) -> None:
        self.value = float(state["value"])


class AdaptiveKLController(FixedKLController):
    """Ziegler et al. 2019, section 2.2: steer the KL coefficient towards a target KL.

    ``e = clip(KL / target - 1, -0.2, 0.2)`` and ``beta <- beta * (1 + e * n_steps / horizon)``,
    where ``KL`` is the mean per-sequence KL of the last batch and ``n_steps`` the number of
    sequences in it. The clip keeps one odd batch from swinging beta wildly.
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: int) -> None:
        if target <= 0 or horizon <= 0:
            raise ValueError("adaptive KL needs target > 0 and horizon > 0")
        super().__init__(init_kl_coef)
        self.target = float(target)
        self.horizon = int(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        if not math.isfinite(current_kl):
            return
        proportional_error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon

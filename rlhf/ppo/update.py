"""The PPO update over one rollout batch, and the per-step metrics."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import torch

from rlhf.ppo.core import (
    explained_variance,
    kl_estimate,
    logprobs_from_logits,
    masked_mean,
    policy_loss,
    value_loss,
)
from rlhf.ppo.rollout import PPONets, Rollout


def ppo_update(
    nets: PPONets,
    optimizer,
    r: Rollout,
    config,
    ptx_blocks: torch.Tensor | None = None,
    check_stop: Callable[[], None] | None = None,
) -> dict[str, float]:
    """``ppo_epochs`` passes over the rollout in shuffled minibatches, one optimiser step per
    minibatch (accumulated over micro-batches). Returns the mean of each loss statistic."""
    model, accelerator = nets.model, nets.accelerator
    model.train()
    stats: dict[str, list[float]] = {}
    n, ctx = len(r), r.context_length
    accum = config.mini_batch_size // config.micro_batch_size
    params = [p for p in model.parameters() if p.requires_grad]
    for _epoch in range(config.ppo_epochs):
        perm = torch.randperm(n, device=r.query_responses.device)
        for mb_start in range(0, n, config.mini_batch_size):
            if check_stop is not None:
                check_stop()
            minibatch = perm[mb_start : mb_start + config.mini_batch_size]
            for k in range(accum):
                idx = minibatch[k * config.micro_batch_size : (k + 1) * config.micro_batch_size]
                ptx_ids = None
                if ptx_blocks is not None:
                    pick = torch.randint(len(ptx_blocks), (config.ptx_batch_size,))
                    ptx_ids = ptx_blocks[pick].to(r.query_responses.device)
                # Gradients are all-reduced once per minibatch, on its last micro-batch.
                sync = k == accum - 1
                with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                    logits, values, ptx_loss = model(
                        r.query_responses[idx], r.attention_mask[idx], ptx_ids
                    )
                    # Position t's logits predict token t+1; same temperature as sampling.
                    logits = logits[:, ctx - 1 : -1].float() / config.temperature
                    new_logprobs = logprobs_from_logits(logits, r.query_responses[idx, ctx:])
                    mask = r.response_mask[idx]
                    pg_loss, pg_stats = policy_loss(
                        new_logprobs, r.logprobs[idx], r.advantages[idx], mask, config.clip_range
                    )
                    loss = pg_loss
                    vf_loss = vf_clipfrac = None
                    if values is not None:
                        vf_loss, vf_stats = value_loss(
                            values[:, ctx - 1 : -1],
                            r.values[idx],
                            r.returns[idx],
                            mask,
                            config.clip_range_value,
                        )
                        vf_clipfrac = vf_stats["clipfrac"]
                        loss = loss + config.vf_coef * vf_loss
                    if ptx_loss is not None:
                        loss = loss + config.ptx_coef * ptx_loss
                    accelerator.backward(loss / accum)
                for name, value in (
                    ("policy_loss", pg_loss),
                    ("value_loss", vf_loss),
                    ("clipfrac", pg_stats["clipfrac"]),
                    ("approx_kl", pg_stats["approx_kl"]),
                    ("value_clipfrac", vf_clipfrac),
                    ("ptx_loss", ptx_loss),
                ):
                    if value is not None:
                        stats.setdefault(name, []).append(value.item())
            if config.max_grad_norm > 0:
                grad_norm = accelerator.clip_grad_norm_(params, config.max_grad_norm)
                stats.setdefault("grad_norm", []).append(float(grad_norm))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return {k: sum(v) / len(v) for k, v in stats.items()}


def lr_factor(step: int, config) -> float:
    """Linear warm-up, then constant or linear decay to 0 at ``total_steps``."""
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.lr_scheduler == "constant":
        return 1.0
    return max(0.0, 1.0 - step / config.total_steps)


def step_metrics(
    r: Rollout, kl_coef: float, update: dict[str, float], t_rollout: float, t_update: float, config
) -> dict[str, float]:
    """Scalar metrics of one PPO step; KLs are per sequence (summed over tokens)."""
    mask = r.response_mask
    lengths = mask.sum(dim=1)
    response_tokens = float(lengths.sum())
    prompt_tokens = float(r.attention_mask[:, : r.context_length].sum())
    k1 = (kl_estimate(r.logprobs, r.ref_logprobs, "k1") * mask).sum(dim=1)
    k3 = (kl_estimate(r.logprobs, r.ref_logprobs, "k3") * mask).sum(dim=1)
    return {
        "score": r.scores.mean().item(),  # the reward model, as returned by reward_fn
        "reward": r.rewards.sum(dim=1).mean().item(),  # score + EOS penalty - beta * KL
        "kl": k1.mean().item(),
        "kl_k3": k3.mean().item(),
        "kl_coef": kl_coef,
        "entropy": masked_mean(r.entropy, mask).item(),  # nats per token, at temperature
        "response_length": lengths.mean().item(),
        "eos_fraction": r.has_eos.float().mean().item(),
        "value_mean": masked_mean(r.values, mask).item(),
        # NaN (stored as null) without a critic: a constant 0 "explains" nothing by design.
        "explained_variance": (
            math.nan
            if config.value_model_init == "none"
            else explained_variance(r.values, r.returns, mask)
        ),
        **update,
        # Generated tokens per second of the whole rollout (sampling, scoring, 3 forwards).
        "rollout_tokens_per_s": response_tokens / max(t_rollout, 1e-9),
        # Tokens (prompt + response) through forward+backward per second of the update.
        "update_tokens_per_s": (response_tokens + prompt_tokens)
        * config.ppo_epochs
        / max(t_update, 1e-9),
        "time_rollout_s": t_rollout,
        "time_update_s": t_update,
    }


def reduce_metrics(accelerator, metrics: dict[str, float]) -> dict[str, float]:
    """Average scalar metrics over processes (every process must call this)."""
    if accelerator.num_processes == 1:
        return metrics
    keys = list(metrics)  # the same order on every process: the same code made them
    values = torch.tensor(
        [metrics[k] for k in keys], device=accelerator.device, dtype=torch.float64
    )
    values = accelerator.reduce(values, reduction="mean")
    return dict(zip(keys, values.tolist(), strict=True))


def sample_dicts(r: Rollout, split: str, n: int) -> list[dict[str, Any]]:
    """What callbacks.on_samples receives: prompt, response, score and how it ended."""
    return [
        {
            "split": split,
            "prompt": r.prompts[i],
            "response": r.responses[i],
            "score": float(r.scores[i]),
            "length": int(r.response_mask[i].sum()),
            "ended_with_eos": bool(r.has_eos[i]),
        }
        for i in range(min(n, len(r)))
    ]

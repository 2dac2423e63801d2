"""Rollouts: sample responses, score them, and record everything the PPO update needs.

Layout of a rollout batch (B sequences): ``query_responses`` is ``(B, P + T)``, the left-padded
prompts (width P, the "context length") followed by the sampled responses (width T). Response
tensors are ``(B, T)``; ``response_mask`` is 1 on tokens up to and including the first EOS and
0 after it, so a response that stopped early is just shorter, never a source of loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from rlhf.ppo.core import (
    compute_gae,
    entropy_from_logits,
    kl_penalised_rewards,
    logprobs_from_logits,
    masked_whiten,
)
from rlhf.ppo.data import Prompt, left_pad, position_ids_from_mask

RewardFn = Callable[[list[Prompt], list[str]], "Sequence[float] | torch.Tensor"]


@dataclass
class Rollout:
    prompts: list[Prompt]
    responses: list[str]  # decoded, special tokens removed: what the reward model saw
    query_responses: torch.Tensor  # (B, P+T) token ids
    attention_mask: torch.Tensor  # (B, P+T): prompt padding and post-EOS padding are 0
    context_length: int  # P
    response_mask: torch.Tensor  # (B, T) float
    has_eos: torch.Tensor  # (B,) bool
    scores: torch.Tensor  # (B,) reward-model score as returned by reward_fn
    logprobs: torch.Tensor | None = None  # (B, T) under the rollout policy, at temperature
    ref_logprobs: torch.Tensor | None = None
    values: torch.Tensor | None = None
    entropy: torch.Tensor | None = None
    # Filled by the trainer once the KL penalty and GAE have been applied:
    rewards: torch.Tensor | None = None
    kl: torch.Tensor | None = None
    advantages: torch.Tensor | None = None
    returns: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.query_responses.shape[0]


def eos_token_ids(tokenizer, model=None) -> list[int]:
    ids = {tokenizer.eos_token_id}
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(gen_eos, int):
        ids.add(gen_eos)
    elif gen_eos:
        ids.update(gen_eos)
    return sorted(i for i in ids if i is not None)


def sampling_config(
    tokenizer, eos_ids: list[int], max_new_tokens: int, temperature: float, top_p: float
):
    """A fresh GenerationConfig: the checkpoint's own (top_k=50, repetition penalty...) would
    change the sampling distribution away from the temperature-scaled softmax whose
    log-probs PPO computes."""
    from transformers import GenerationConfig

    return GenerationConfig(
        do_sample=True,
        temperature=temperature,
        top_p=top_p,
        top_k=0,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=True,
    )


def mask_after_eos(
    responses: torch.Tensor, eos_ids: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(response_mask, has_eos)``: 1 up to and including the first EOS of each row.

    Works when pad == EOS (SmolLM2, GPT-2): only the first EOS counts as the response's end.
    """
    is_eos = torch.isin(responses, torch.tensor(eos_ids, device=responses.device))
    has_eos = is_eos.any(dim=1)
    T = responses.shape[1]
    first_eos = torch.where(
        has_eos, is_eos.float().argmax(dim=1), torch.full_like(has_eos, T, dtype=torch.long)
    )
    positions = torch.arange(T, device=responses.device).unsqueeze(0)
    response_mask = (positions <= first_eos.unsqueeze(1)).float()
    return response_mask, has_eos


@torch.no_grad()
def generate_responses(
    policy, tokenizer, prompt_ids: list[list[int]], gen_config, device
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Sample one response per prompt: ``(query_responses, attention_mask, context_length)``."""
    input_ids, attention_mask = left_pad(prompt_ids, tokenizer.pad_token_id)
    input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
    out = policy.generate(
        input_ids=input_ids, attention_mask=attention_mask, generation_config=gen_config
    )
    context_length = input_ids.shape[1]
    responses = out[:, context_length:]
    if responses.shape[1] == 0:  # every row stopped before its first token: impossible, but
        responses = torch.full_like(out[:, :1], tokenizer.pad_token_id)  # keep shapes valid
    response_mask, _ = mask_after_eos(responses, gen_config.eos_token_id)
    full_mask = torch.cat([attention_mask, response_mask.long()], dim=1)
    return torch.cat([input_ids, responses], dim=1), full_mask, context_length


@torch.no_grad()
def response_logprobs(
    model,
    query_responses: torch.Tensor,
    attention_mask: torch.Tensor,
    context_length: int,
    temperature: float,
    micro_batch_size: int,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs of the response tokens (and the per-token entropy) at ``temperature``.

    The logit at position i predicts token i + 1, hence the slice ``[P - 1 : -1]``. Dividing
    by the sampling temperature makes these the log-probs of the distribution that was
    actually sampled from (N+ implementation details).
    """
    out_lp, out_ent = [], []
    for i in range(0, query_responses.shape[0], micro_batch_size):
        qr = query_responses[i : i + micro_batch_size]
        am = attention_mask[i : i + micro_batch_size]
        logits = model(
            input_ids=qr,
            attention_mask=am,
            position_ids=position_ids_from_mask(am),
            use_cache=False,
        ).logits
        logits = logits[:, context_length - 1 : -1].float() / temperature
        out_lp.append(logprobs_from_logits(logits, qr[:, context_length:]))
        if with_entropy:
            out_ent.append(entropy_from_logits(logits))
        del logits
    return torch.cat(out_lp), (torch.cat(out_ent) if with_entropy else None)


@torch.no_grad()
def response_values(
    value_model, query_responses, attention_mask, context_length: int, micro_batch_size: int
) -> torch.Tensor:
    """V(s_t) for each response token t: the value read at the position before it."""
    out = []
    for i in range(0, query_responses.shape[0], micro_batch_size):
        am = attention_mask[i : i + micro_batch_size]
        v = value_model(query_responses[i : i + micro_batch_size], am, position_ids_from_mask(am))
        out.append(v[:, context_length - 1 : -1])
    return torch.cat(out)


def call_reward_fn(
    reward_fn: RewardFn, prompts: list[Prompt], responses: list[str], device
) -> torch.Tensor:
    """Run the reward function and check what comes back: one finite number per response."""
    raw = reward_fn(prompts, responses)
    scores = torch.as_tensor(
        raw.detach().cpu() if isinstance(raw, torch.Tensor) else list(raw), dtype=torch.float32
    ).flatten()
    if scores.numel() != len(responses):
        raise ValueError(
            f"reward_fn returned {scores.numel()} scores for {len(responses)} responses"
        )
    if not torch.isfinite(scores).all():
        bad = [i for i, s in enumerate(scores.tolist()) if not math.isfinite(s)]
        raise ValueError(f"reward_fn returned non-finite scores at positions {bad[:10]}")
    return scores.to(device)


def decode_responses(tokenizer, query_responses, response_mask, context_length) -> list[str]:
    responses = query_responses[:, context_length:]
    lengths = response_mask.sum(dim=1).long().tolist()
    return [
        tokenizer.decode(row[:n].tolist(), skip_special_tokens=True)
        for row, n in zip(responses, lengths, strict=True)
    ]


class PPONets:
    """The trainable policy+value module (possibly DDP-wrapped) and the frozen reference.

    With LoRA there is no reference copy: the reference is the policy with its adapters
    switched off, which costs no memory and is exactly the SFT model.
    """

    def __init__(self, model, ref_policy, accelerator) -> None:
        self.model = model
        self.ref_policy = ref_policy
        self.accelerator = accelerator

    @property
    def unwrapped(self):
        return self.accelerator.unwrap_model(self.model)

    def reference_fingerprint(self) -> str:
        """Hash of the reference weights: tests check that training never touched them."""
        from rlhf.ppo.models import weights_fingerprint

        return weights_fingerprint(self.ref_policy or self.unwrapped.policy)

    def ref_logprobs(self, qr, am, ctx: int, temperature: float, micro: int) -> torch.Tensor:
        if self.ref_policy is not None:
            return response_logprobs(self.ref_policy, qr, am, ctx, temperature, micro)[0]
        policy = self.unwrapped.policy
        with policy.disable_adapter():
            return response_logprobs(policy, qr, am, ctx, temperature, micro)[0]


@torch.no_grad()
def make_rollout(
    nets: PPONets,
    tokenizer,
    gen_config,
    reward_fn: RewardFn,
    prompts: list[Prompt],
    prompt_ids: list[list[int]],
    config,
) -> Rollout:
    """Sample one response per prompt and record scores, log-probs, ref log-probs, values."""
    nets.model.eval()
    net, device = nets.unwrapped, nets.accelerator.device
    temperature, micro = config.temperature, config.micro_batch_size
    with nets.accelerator.autocast():
        qr, am, ctx = generate_responses(net.policy, tokenizer, prompt_ids, gen_config, device)
        response_mask, has_eos = mask_after_eos(qr[:, ctx:], gen_config.eos_token_id)
        texts = decode_responses(tokenizer, qr, response_mask, ctx)
        scores = call_reward_fn(reward_fn, prompts, texts, device)
        logprobs, entropy = response_logprobs(
            net.policy, qr, am, ctx, temperature, micro, with_entropy=True
        )
        ref_logprobs = nets.ref_logprobs(qr, am, ctx, temperature, micro)
        if net.value_model is None:  # no critic: every value is 0, so GAE with lam=1 gives
            values = torch.zeros_like(logprobs)  # the reward still to come at each token
        else:
            values = response_values(net.value_model, qr, am, ctx, micro)
    return Rollout(
        prompts=prompts,
        responses=texts,
        query_responses=qr,
        attention_mask=am,
        context_length=ctx,
        response_mask=response_mask,
        has_eos=has_eos,
        scores=scores,
        logprobs=logprobs,
        ref_logprobs=ref_logprobs,
        values=values,
        entropy=entropy,
    )


def leave_one_out_centre(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Each score minus the mean of the other k-1 samples of its prompt (samples of one prompt
    are consecutive in the batch)."""
    groups = scores.view(-1, k)
    others = (groups.sum(dim=1, keepdim=True) - groups) / (k - 1)
    return (groups - others).reshape(-1)


@torch.no_grad()
def add_advantages(r: Rollout, kl_coef: float, config) -> None:
    """Fill ``rewards``, ``kl``, ``advantages`` (whitened) and ``returns`` of a rollout."""
    scores = r.scores
    if config.missing_eos_penalty is not None:
        # N+ detail: a response cut off by max_new_tokens is penalised, or the policy learns
        # to ramble past the lengths the reward model was trained on.
        scores = torch.where(r.has_eos, scores, scores - config.missing_eos_penalty)
    if config.score_baseline == "leave_one_out":
        scores = leave_one_out_centre(scores, config.samples_per_prompt)
    r.rewards, r.kl = kl_penalised_rewards(
        scores, r.logprobs, r.ref_logprobs, r.response_mask, kl_coef, config.kl_estimator
    )
    rewards = r.rewards
    if config.whiten_rewards:
        rewards = masked_whiten(rewards, r.response_mask, shift_mean=False)
    advantages, r.returns = compute_gae(
        rewards, r.values, r.response_mask, config.gamma, config.lam
    )
    r.advantages = masked_whiten(advantages, r.response_mask)

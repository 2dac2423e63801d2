"""Typed trainer options for ``runs.start_reward_model`` and ``runs.start_ppo``.

Each field mirrors a user-settable key of the server's trainer config (``rlhf.config.
RewardConfig`` / ``rlhf.ppo.config.PPOConfig``; a test in the Rankwise repository keeps the two
lists equal). A field left at ``None`` is not sent, so the server's default applies (the
trainer's own, or the server's: checkpoints are on unless you turn them off). Values are not
checked here: the server validates them with the trainer's own dataclass and names a bad key
(``config.<key>``) in its 400. ``extra`` passes keys this version of the client does not know.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class _TrainerConfig:
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``config`` object of the API request: the fields that are set, then ``extra``."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "extra" and getattr(self, f.name) is not None
        }
        return {**out, **self.extra}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "extra"]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _TrainerConfig:
        """Known keys become fields, the rest go to ``extra`` (a run's stored config)."""
        known = set(cls.field_names())
        return cls(
            **{k: v for k, v in data.items() if k in known},
            extra={k: v for k, v in data.items() if k not in known},
        )


@dataclass(kw_only=True)
class RewardModelConfig(_TrainerConfig):
    """Reward-model training (InstructGPT K-wise loss). Commonly set: ``num_epochs`` or
    ``max_steps``, ``batch_size`` (prompts per micro-batch), ``learning_rate``, ``max_length``."""

    # data
    data_format: str | None = None  # auto | rankings | pairwise
    labels: str | None = None  # annotations (each judgement) | consensus (one per prompt)
    eval_fraction: float | None = None  # prompt ids held out when lines carry no split
    seed: int | None = None
    max_length: int | None = None  # tokens per (prompt, completion)
    input_layout: str | None = None  # text (one text, recorded in the card) | pair
    prompt_min_fraction: float | None = None  # share of max_length the prompt always keeps
    overlong: str | None = None  # truncate | drop (training pairs over max_length, as TRL)
    # optimisation
    batch_size: int | None = None
    batch_unit: str | None = None  # prompts | comparisons (what batch_size counts)
    gradient_accumulation_steps: int | None = None
    learning_rate: float | None = None
    head_learning_rate: float | None = None  # the new head's peak rate (0: learning_rate)
    weight_decay: float | None = None
    adam_beta1: float | None = None
    adam_beta2: float | None = None
    adam_epsilon: float | None = None
    max_grad_norm: float | None = None
    num_epochs: float | None = None
    max_steps: int | None = None  # > 0 overrides num_epochs
    lr_scheduler: str | None = None  # linear | cosine | constant
    warmup_ratio: float | None = None
    warmup_steps: int | None = None
    weighting: str | None = None  # comparison | prompt | source
    mix_sources: bool | None = None  # batches as stratified samples of the sources
    length_bucketing: bool | None = None
    bucket_batches: int | None = None
    forward_chunk_size: int | None = None
    disable_dropout: bool | None = None
    # hardware
    mixed_precision: str | None = None  # no | bf16 | fp16
    gradient_checkpointing: bool | None = None
    num_threads: int | None = None
    # LoRA
    lora_r: int | None = None  # 0 trains all weights
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    lora_target_modules: list[str] | None = None
    # length bias
    length_debias: str | None = None  # none | balanced_pairs | correlation_penalty
    length_debias_coef: float | None = None
    # margins and heads (off by default)
    margin_loss: str | None = None  # pairwise | off | on (Llama 2, rank gaps as margins)
    margin_scale: float | None = None
    ensemble_size: int | None = None  # reward heads on one trunk, mean and spread
    ensemble_bootstrap: bool | None = None
    dimensions: list[str] | None = None  # one head per name beside "overall"
    # checkpoints, logging, evaluation
    checkpoint_every: int | None = None
    keep_checkpoints: int | None = None
    log_every: int | None = None
    eval_batch_size: int | None = None
    agreement_buckets: list[float] | None = None
    offset_max_completions: int | None = None
    save_model: bool | None = None


@dataclass(kw_only=True)
class PPOConfig(_TrainerConfig):
    """PPO against a registered reward model. Commonly set: ``total_steps``, ``batch_size``,
    ``kl_coef``, ``max_new_tokens``, ``learning_rate``, ``save_every``."""

    # models
    value_model_init: str | None = None  # auto | reward_model | policy | none
    lora: bool | None = None
    lora_r: int | None = None
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    lora_target_modules: list[str] | None = None
    bf16: bool | None = None
    gradient_checkpointing: bool | None = None
    num_threads: int | None = None
    # data
    num_eval_prompts: int | None = None
    eval_samples_per_prompt: int | None = None
    max_prompt_length: int | None = None
    ptx_coef: float | None = None
    ptx_block_size: int | None = None
    ptx_batch_size: int | None = None
    # rollout
    total_steps: int | None = None
    batch_size: int | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    missing_eos_penalty: float | None = None
    # reward
    kl_coef: float | None = None
    kl_estimator: str | None = None  # k1 | k2 | k3
    adaptive_kl: bool | None = None
    kl_target: float | None = None
    kl_horizon: int | None = None
    whiten_rewards: bool | None = None
    samples_per_prompt: int | None = None
    score_baseline: str | None = None  # none | leave_one_out
    reward_weights: dict[str, float] | None = None  # {head: weight} of a multi-head RM
    reward_conservative_k: float | None = None  # optimise mean - k * ensemble spread
    # PPO update
    ppo_epochs: int | None = None
    mini_batch_size: int | None = None
    micro_batch_size: int | None = None
    gamma: float | None = None
    lam: float | None = None
    clip_range: float | None = None
    clip_range_value: float | None = None
    vf_coef: float | None = None
    learning_rate: float | None = None
    lr_scheduler: str | None = None  # linear | constant
    warmup_steps: int | None = None
    weight_decay: float | None = None
    adam_eps: float | None = None
    max_grad_norm: float | None = None
    # bookkeeping
    seed: int | None = None
    num_samples_logged: int | None = None
    save_every: int | None = None
    keep_checkpoints: int | None = None

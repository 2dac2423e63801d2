"""Everything a PPO run can be told, in one dataclass that round-trips through JSON.

A run file is a JSON object whose keys are field names below; a key that is not a field is an
error naming it (a typo such as ``"kl_coeff"`` must not silently fall back to a default).
Loading and errors come from :class:`rlhf.config_base.RunConfig`, as for the reward trainer:
every problem raises :class:`rlhf.config_base.ConfigError` naming its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rlhf.config_base import RunConfig


@dataclass
class PPOConfig(RunConfig):
    error_prefix: ClassVar[str] = "PPO config: "

    # --- models ------------------------------------------------------------------------------
    # The SFT policy: an HF causal LM directory (its tokenizer is used for prompts and rollouts).
    policy: str = ""
    # A reward model directory written by rlhf.train_reward; scored through rlhf.scoring.
    # Optional only when train_ppo() is handed a reward_fn (tests, scripted rewards).
    reward_model: str | None = None
    # Where the value model comes from: "reward_model" (the RM's backbone and score head, as in
    # the N+ reproduction; needs a decoder RM with the policy's vocabulary), "policy" (the SFT
    # backbone with a fresh scalar head), "auto" (the RM when it qualifies, else the policy), or
    # "none": no critic at all. Advantages are then the reward still to come at each token
    # (needs lam=1), best with a leave_one_out score baseline: RLOO's estimator under PPO's
    # clipped update. It saves a second trunk's forward, backward and optimiser state: worth
    # it when a critic cannot learn much anyway (a weak RM, a short run).
    value_model_init: str = "auto"
    # LoRA on the policy: the reference model is then the same weights with adapters disabled.
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: list[str] | None = None  # None: every linear layer but the LM head
    bf16: bool = False  # bf16 autocast for training; frozen models are loaded in bf16
    gradient_checkpointing: bool = False
    num_threads: int = 0  # torch CPU threads; 0 leaves torch's default

    # --- data --------------------------------------------------------------------------------
    # JSONL: {"prompt": str} | {"messages": [...]} | a Rankwise rankings line | a JSON string.
    prompts_path: str = ""
    # Fixed prompts for evaluation; without a file, num_eval_prompts are held out of prompts_path.
    eval_prompts_path: str | None = None
    num_eval_prompts: int = 8
    # Responses sampled per evaluation prompt (side by side in the samples): a mean over
    # several cuts the sampling noise that a before/after comparison has to see through.
    eval_samples_per_prompt: int = 1
    max_prompt_length: int = 256  # longer prompts (in tokens, template included) are dropped
    # PPO-ptx (InstructGPT eq. 2): LM loss on this plain-text file, weighted by ptx_coef.
    ptx_path: str | None = None
    ptx_coef: float = 0.0
    ptx_block_size: int = 128
    ptx_batch_size: int = 4

    # --- rollout -----------------------------------------------------------------------------
    total_steps: int = 100  # PPO iterations: one rollout batch + its PPO epochs each
    batch_size: int = 16  # prompts per rollout, per process
    max_new_tokens: int = 64
    temperature: float = 0.7  # sampling and log-prob temperature (they must agree)
    top_p: float = 1.0
    # Subtracted from the RM score of a response that hit max_new_tokens without EOS.
    missing_eos_penalty: float | None = None

    # --- reward --------------------------------------------------------------------------------
    kl_coef: float = 0.02  # beta in r = score - beta * KL(pi || ref)
    kl_estimator: str = "k1"  # per-token estimator used in the reward: k1, k2 or k3
    adaptive_kl: bool = False  # Ziegler et al.: steer kl_coef towards kl_target
    kl_target: float = 6.0  # nats per sequence
    kl_horizon: int = 10000
    whiten_rewards: bool = False
    # Reward models with several heads (rlhf.heads): the score PPO optimises is
    # sum over heads of weight * (head mean - reward_conservative_k * head spread over the
    # ensemble members). No weights: the overall head alone; k = 0: the plain mean. A k of
    # about 1 guards against over-optimising what only some members believe (Coste et al.).
    reward_weights: dict[str, float] = field(default_factory=dict)
    reward_conservative_k: float = 0.0
    # Responses sampled per prompt in a rollout batch (batch_size counts responses). With
    # score_baseline "leave_one_out", each score has the mean of its prompt's other samples
    # subtracted before the KL penalty (as RLOO does): the advantages then carry the reward
    # model's preference between responses to the same prompt, not the spread between prompts,
    # which a critic trained on a few hundred samples cannot yet explain.
    samples_per_prompt: int = 1
    score_baseline: str = "none"

    # --- PPO update ----------------------------------------------------------------------------
    ppo_epochs: int = 4
    mini_batch_size: int = 8  # sequences per optimiser step (divides batch_size)
    micro_batch_size: int = 4  # sequences per forward pass (divides mini_batch_size)
    gamma: float = 1.0
    lam: float = 0.95
    clip_range: float = 0.2
    clip_range_value: float = 0.2
    vf_coef: float = 0.1
    learning_rate: float = 3e-6
    lr_scheduler: str = "linear"  # "linear" (decay to 0 over total_steps) or "constant"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    adam_eps: float = 1e-5
    max_grad_norm: float = 1.0

    # --- bookkeeping -------------------------------------------------------------------------
    output_dir: str = ""
    seed: int = 42
    num_samples_logged: int = 4  # sample responses sent to callbacks.on_samples per step
    save_every: int = 0  # checkpoint every N steps (0: no intermediate checkpoints)
    keep_checkpoints: int = 2  # older step-N directories are deleted
    resume: bool = False  # continue from the latest output_dir/checkpoints/step-N

    # --- lineage, copied into rankwise_card.json --------------------------------------------
    snapshot_id: str | None = None
    snapshot_sha256: str | None = None
    reward_model_run_id: str | None = None
    lineage: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ConfigError on settings that cannot work, naming the field."""
        self.require("policy", "prompts_path", "output_dir")
        positive = [
            "total_steps", "batch_size", "mini_batch_size", "micro_batch_size", "ppo_epochs",
            "max_new_tokens", "max_prompt_length", "lora_r", "kl_horizon", "ptx_block_size",
            "ptx_batch_size", "samples_per_prompt", "eval_samples_per_prompt",
        ]  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            self.check(value > 0, name, f"{name!r} must be > 0, got {value}")
        for name in ("num_eval_prompts", "save_every", "keep_checkpoints", "warmup_steps",
                     "num_samples_logged", "num_threads"):  # fmt: skip
            value = getattr(self, name)
            self.check(value >= 0, name, f"{name!r} must be >= 0, got {value}")
        for small, big in (
            ("mini_batch_size", "batch_size"),
            ("micro_batch_size", "mini_batch_size"),
        ):
            self.check(
                getattr(self, big) % getattr(self, small) == 0,
                small,
                f"{small!r} must divide {big!r}",
            )
        self.check(
            self.batch_size >= 2, "batch_size", "'batch_size' must be >= 2 to whiten advantages"
        )
        self.check(
            self.batch_size % self.samples_per_prompt == 0,
            "samples_per_prompt",
            "'samples_per_prompt' must divide 'batch_size'",
        )
        self.check_choice("score_baseline", ("none", "leave_one_out"))
        self.check(
            self.score_baseline != "leave_one_out" or self.samples_per_prompt >= 2,
            "samples_per_prompt",
            "score_baseline='leave_one_out' needs 'samples_per_prompt' >= 2",
        )
        self.check(
            self.temperature > 0, "temperature", "'temperature' must be > 0 (PPO needs sampling)"
        )
        self.check(0 < self.top_p <= 1, "top_p", "'top_p' must be in (0, 1]")
        for name in ("gamma", "lam"):
            self.check(0 <= getattr(self, name) <= 1, name, f"{name!r} must be in [0, 1]")
        for name in ("clip_range", "clip_range_value", "learning_rate", "adam_eps"):
            self.check(getattr(self, name) > 0, name, f"{name!r} must be > 0")
        self.check(
            all(isinstance(w, (int, float)) and not isinstance(w, bool)
                for w in self.reward_weights.values()),
            "reward_weights", "'reward_weights' must map head names to numbers",
        )  # fmt: skip
        for name in ("kl_coef", "vf_coef", "ptx_coef", "max_grad_norm", "weight_decay",
                     "reward_conservative_k"):  # fmt: skip
            self.check(getattr(self, name) >= 0, name, f"{name!r} must be >= 0")
        self.check(
            not self.adaptive_kl or self.kl_target > 0,
            "kl_target",
            "'kl_target' must be > 0 with adaptive_kl",
        )
        self.check_choice("value_model_init", ("auto", "reward_model", "policy", "none"))
        self.check_choice("kl_estimator", ("k1", "k2", "k3"))
        self.check_choice("lr_scheduler", ("linear", "constant"))
        self.check(
            self.ptx_coef == 0 or bool(self.ptx_path), "ptx_path", "'ptx_coef' > 0 needs 'ptx_path'"
        )
        self.check(
            self.value_model_init != "none" or self.lam == 1,
            "lam",
            "value_model_init='none' needs 'lam' = 1: without a critic there is no value to "
            f"bootstrap from, and lam={self.lam} would only discount the reward for early tokens",
        )
        self.check(
            self.value_model_init != "reward_model" or bool(self.reward_model),
            "reward_model",
            "value_model_init='reward_model' needs 'reward_model'",
        )

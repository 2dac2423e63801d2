"""Every option of the reward-model trainer, in one dataclass read from a JSON file.

Loading, type checks and errors come from :class:`rlhf.config_base.RunConfig`, as for PPO:
``RewardConfig.from_json(path)`` rejects unknown keys by name, so a typo in a run file fails
before any model is loaded instead of silently training with a default, and every problem is
a :class:`ConfigError` whose ``field`` names the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlhf.config_base import ConfigError, RunConfig

__all__ = ["ConfigError", "RewardConfig"]

LABEL_MODES = ("annotations", "consensus")
DATA_FORMATS = ("auto", "rankings", "pairwise")
PRECISIONS = ("no", "bf16", "fp16")
SCHEDULERS = ("linear", "cosine", "constant")
WEIGHTINGS = ("comparison", "prompt", "source")
INPUT_LAYOUTS = ("text", "pair")
OVERLONG = ("truncate", "drop")
BATCH_UNITS = ("prompts", "comparisons")
LENGTH_DEBIAS = ("none", "balanced_pairs", "correlation_penalty")
MARGIN_LOSS = ("pairwise", "off", "on")


@dataclass
class RewardConfig(RunConfig):
    """Options of ``python -m rlhf.train_reward --config run.json``.

    Only ``model_name_or_path``, ``train_file`` and ``output_dir`` are required.
    """

    # --- what to train on and from ---
    model_name_or_path: str = ""
    """Local Hugging Face model directory (or hub id when a cache holds it)."""
    train_file: str = ""
    """Snapshot in the ``rankings`` or ``pairwise`` JSONL format."""
    output_dir: str = ""
    """Where the model, tokenizer, ``rankwise_card.json`` and checkpoints go."""
    data_format: str = "auto"
    """``auto`` (detect per line), ``rankings`` or ``pairwise``."""
    labels: str = "annotations"
    """``annotations``: every annotation is its own example; ``consensus``: one example per
    prompt from ``consensus.ranking`` (prompts without a consensus are skipped and counted)."""
    eval_files: list[str] = field(default_factory=list)
    """Extra evaluation sets: LLMBar JSON (``[{input, output_1, output_2, label}]``) or
    pairwise/rankings JSONL."""
    snapshot_id: str | None = None
    """Dataset snapshot id, copied into the card."""
    snapshot_sha256: str | None = None
    """SHA-256 of the snapshot file, copied into the card."""

    # --- splits ---
    eval_fraction: float = 0.1
    """Fraction of prompt ids held out when lines carry no ``split`` field (the start
    summary says how many lines had none). 0 keeps them all for training: use it when
    ``eval_files`` is the evaluation set."""
    seed: int = 42
    """Seeds the split, batch order, head initialisation and dropout."""

    # --- tokenisation ---
    max_length: int = 512
    """Tokens per (prompt, completion); the prompt loses tokens from the left, the
    completion from the right (see ``prompt_min_fraction``)."""
    input_layout: str = "text"
    """``text``: prompt and completion as one text, ``{prompt}\\n\\nAssistant:
    {completion}`` (:data:`rlhf.scoring.TEXT_TEMPLATE`; a chat template when the prompt is a
    message list and the tokenizer has one), recorded in the card so the tokenizer alone
    reproduces it. ``pair``: the older layout, BERT-like tokenizers get (prompt, completion)
    as two segments."""
    prompt_min_fraction: float = 0.25
    """``text`` layout, over-long inputs: the prompt keeps at least this fraction of
    ``max_length`` (its last tokens, or all of it when shorter); the completion keeps its
    first tokens in the rest. 0: the completion is cut only when it alone does not fit."""
    overlong: str = "truncate"
    """Training comparisons whose prompt + completion exceeds ``max_length``: ``truncate``
    them (see above) or ``drop`` them, as TRL's RewardTrainer does (a ranking keeps its
    other comparisons). Evaluation always truncates. The start summary counts the drops."""

    # --- optimisation ---
    batch_size: int = 8
    """Prompts (not pairs; see ``batch_unit``) per micro-batch per device; all K
    completions of a prompt go in the same forward pass."""
    batch_unit: str = "prompts"
    """What ``batch_size`` counts: ``prompts``, or ``comparisons`` (a micro-batch takes
    prompts until it holds ``batch_size`` pairs; a larger ranking is a batch of its own).
    ``comparisons`` gives a rankings file as many optimiser steps per epoch as the same
    data expanded to pairs, while still encoding each completion once."""
    gradient_accumulation_steps: int = 1
    """Micro-batches per optimiser step (effective batch = batch_size x this x processes)."""
    learning_rate: float = 2e-5
    """Peak AdamW learning rate."""
    head_learning_rate: float = 0.0
    """Peak learning rate of the freshly initialised head (the score/classifier layer and a
    BERT-style pooler); 0: ``learning_rate``. A new head moves by about the learning rate per
    Adam step, so at trunk-sized rates it stays near its random start for a whole short run."""
    weight_decay: float = 0.0
    """AdamW decoupled weight decay."""
    adam_beta1: float = 0.9
    """AdamW beta1."""
    adam_beta2: float = 0.999
    """AdamW beta2."""
    adam_epsilon: float = 1e-8
    """AdamW epsilon."""
    max_grad_norm: float = 1.0
    """Gradient clipping; 0 turns it off."""
    num_epochs: float = 1.0
    """Fractions allowed (0.5 = half an epoch)."""
    max_steps: int = 0
    """If > 0, stop after this many optimiser steps (overrides ``num_epochs``)."""
    lr_scheduler: str = "linear"
    """``linear`` (decay to zero, as TRL's default), ``cosine`` (to zero) or ``constant``, all
    after linear warm-up."""
    warmup_ratio: float = 0.1
    """Fraction of the optimiser steps spent warming the learning rate up linearly."""
    warmup_steps: int = 0
    """If > 0, overrides ``warmup_ratio``."""
    weighting: str = "comparison"
    """How comparisons weigh in the loss. ``comparison``: every pair alike (a 6-pair ranking
    weighs six pairs, as a pairwise trainer sees it); ``prompt``: every prompt alike, its
    pairs averaged (InstructGPT; a source of large rankings among many pairwise prompts
    ends up with a small share of the loss); ``source``: every source (the line's
    ``source`` or ``metadata.source``, else its format) carries the same total weight."""
    mix_sources: bool = True
    """Without length bucketing, make every batch a stratified sample of the sources, in
    their share of the training data."""
    length_bucketing: bool = False
    """Group prompts of similar token length into a batch to waste little on padding. When
    sources differ in length, batches become mostly one source; ``forward_chunk_size``
    recovers most of the padding without that."""
    bucket_batches: int = 50
    """How many batches' worth of prompts are sorted together when bucketing (larger: less
    padding, less randomness in batch composition)."""

    forward_chunk_size: int = 0
    """Sequences per forward pass inside a micro-batch. The micro-batch's completions are
    sorted by length first, so small chunks pad less; 0 runs them all in one forward."""

    disable_dropout: bool = True
    """Set every dropout probability to 0: the pair loss compares rewards from separate
    forward passes, and dropout noise in each of them only blurs the gap."""

    # --- hardware ---
    mixed_precision: str = "no"
    """``no``, ``bf16`` or ``fp16`` (through accelerate's autocast)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 30% more compute."""
    num_threads: int = 0
    """torch CPU threads; 0 leaves torch's default."""

    # --- LoRA (peft); merged into the base weights before saving ---
    lora_r: int = 0
    """0 trains all weights; > 0 trains LoRA adapters of this rank plus the reward head."""
    lora_alpha: int = 16
    """LoRA scaling numerator (the update is scaled by lora_alpha / lora_r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA branch."""
    lora_target_modules: list[str] | None = None
    """Module names to adapt; None lets peft pick the attention projections for the arch."""

    # --- length bias ---
    length_debias: str = "none"
    """``none``; ``balanced_pairs``: reweight training pairs so pairs won by the longer and
    by the shorter completion carry equal total weight (``length_debias_coef`` in [0, 1]
    interpolates from no reweighting to full balance); ``correlation_penalty``: add
    ``length_debias_coef * corr(reward, length)^2`` over each batch's completions."""
    length_debias_coef: float = 1.0
    """Strength of ``length_debias`` (see there)."""

    # --- margins and heads (docs/training.md, "Margins, ensembles and dimensions") ---
    margin_loss: str = "pairwise"
    """``pairwise`` (as before): a pairwise line's ``margin`` is subtracted inside the
    sigmoid, ranking pairs have none; ``off``: no margin anywhere; ``on`` (Llama 2):
    ``-log sigmoid(r_better - r_worse - m)`` with ``m = margin_scale * margin`` for pairwise
    lines and ``m = margin_scale * (rank gap - 1)`` for ranking pairs, the gap counted in tie
    groups (adjacent groups: 0; first against fourth: 2 * margin_scale)."""
    margin_scale: float = 1.0
    """Multiplies every margin under ``margin_loss = "on"``."""
    ensemble_size: int = 1
    """E reward heads on the shared trunk (one score-layer row each), each trained on its own
    Poisson bootstrap of the pairs; scoring gives their mean and spread."""
    ensemble_bootstrap: bool = True
    """With ``ensemble_size`` > 1: weigh each member's pairs by Poisson(1) draws (seeded), so
    members differ by data as well as by their random initialisation."""
    dimensions: list[str] = field(default_factory=list)
    """Extra heads besides ``overall`` (e.g. ``["helpfulness", "harmlessness"]``), trained
    from lines tagged ``"dimension": NAME`` or annotations' ``"dimensions": {NAME: ranking}``."""

    # --- checkpoints and logging ---
    checkpoint_every: int = 0
    """Save ``output_dir/checkpoints/step-N`` every N optimiser steps; 0 never."""
    keep_checkpoints: int = 0
    """Keep only the newest N checkpoints; 0 keeps all."""
    resume_from: str | None = None
    """``latest`` (newest ``checkpoints/step-N`` in output_dir) or a checkpoint directory;
    the CLI's ``--resume`` sets it."""
    log_every: int = 10
    """Report loss/accuracy to the callbacks every N optimiser steps."""

    # --- evaluation and saving ---
    eval_batch_size: int = 32
    """Completions per forward pass when scoring."""
    agreement_buckets: list[float] = field(default_factory=lambda: [0.6, 0.8])
    """Edges of the human-agreement buckets that accuracy is broken down by."""
    offset_max_completions: int = 1000
    """Estimate the reward offset from at most this many training completions (a seeded
    sample of prompts); 0 scores all of them (minutes on CPU for a few thousand)."""
    save_model: bool = True
    """Write the model, tokenizer and card; benches turn it off."""

    def __post_init__(self) -> None:
        # Built directly (tests, the web form) as well as from a run file: check values
        # either way. Required paths are checked apart, once the server has filled them in.
        self.validate()

    def validate(self) -> None:
        for name, allowed in (
            ("data_format", DATA_FORMATS),
            ("labels", LABEL_MODES),
            ("mixed_precision", PRECISIONS),
            ("lr_scheduler", SCHEDULERS),
            ("length_debias", LENGTH_DEBIAS),
            ("weighting", WEIGHTINGS),
            ("input_layout", INPUT_LAYOUTS),
            ("margin_loss", MARGIN_LOSS),
            ("overlong", OVERLONG),
            ("batch_unit", BATCH_UNITS),
        ):
            self.check_choice(name, allowed)
        for name in ("prompt_min_fraction", "eval_fraction", "warmup_ratio"):
            value = getattr(self, name)
            self.check(0.0 <= value < 1.0, name, f"{name!r} must be in [0, 1), got {value}")
        self.check(self.max_length >= 8, "max_length", "'max_length' must be at least 8")
        for name in ("batch_size", "gradient_accumulation_steps", "log_every"):
            self.check(getattr(self, name) >= 1, name, f"{name!r} must be >= 1")
        for name in ("lora_r", "length_debias_coef", "checkpoint_every", "forward_chunk_size"):
            self.check(getattr(self, name) >= 0, name, f"{name!r} must be >= 0")
        self.check(self.learning_rate > 0, "learning_rate", "'learning_rate' must be > 0")
        self.check(self.head_learning_rate >= 0, "head_learning_rate",
                   "'head_learning_rate' must be >= 0 (0: learning_rate)")  # fmt: skip
        self.check(self.num_epochs > 0 or self.max_steps > 0, "num_epochs",
                   "'num_epochs' or 'max_steps' must be > 0")  # fmt: skip
        self.check(self.length_debias != "balanced_pairs" or self.length_debias_coef <= 1,
                   "length_debias_coef", "balanced_pairs needs 'length_debias_coef' <= 1")  # fmt: skip
        self.check(self.ensemble_size >= 1, "ensemble_size", "'ensemble_size' must be >= 1")
        self.check(self.margin_scale >= 0, "margin_scale", "'margin_scale' must be >= 0")
        self.check(len(set(self.dimensions)) == len(self.dimensions) and all(self.dimensions),
                   "dimensions", "'dimensions' must be distinct non-empty names")  # fmt: skip
        self.check(list(self.agreement_buckets) == sorted(self.agreement_buckets),
                   "agreement_buckets", "'agreement_buckets' must be ascending")  # fmt: skip

    def validate_required(self) -> None:
        self.require("model_name_or_path", "train_file", "output_dir")

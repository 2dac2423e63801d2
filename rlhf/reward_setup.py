"""The reward trainer's setup, in the order :func:`rlhf.train_reward.train_reward` runs it.

Start the processes, read and split the data, load the model, encode every completion once,
plan the batches, build the optimiser, and pick up a checkpoint when resuming. Each stage is
one function; what a stage hands on is a small dataclass, so the training loop
(:mod:`rlhf.reward_loop`) and the evaluation (:mod:`rlhf.reward_eval`) read what they use by name.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from rlhf.callbacks import RunCallbacks
from rlhf.checkpoint import latest_checkpoint, load_checkpoint
from rlhf.config import RewardConfig
from rlhf.data import DataError, Example, LoadStats, assign_splits, load_preferences
from rlhf.heads import HeadLayout
from rlhf.pair_labels import label_pairs
from rlhf.scoring import Encoded, ensure_pad_token


@dataclass
class Run:
    """The processes of one run. Only the main process reports (``cb``); the others stay
    quiet but follow its stop decision."""

    config: RewardConfig
    accelerator: Any
    driver: RunCallbacks
    cb: RunCallbacks
    t_start: float

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    def stop_requested(self) -> bool:
        main = self.accelerator.is_main_process
        stop = [self.driver.should_stop() if main else False]
        if self.world > 1:
            from accelerate.utils import broadcast_object_list

            broadcast_object_list(stop)
        return bool(stop[0])


def start_run(config: RewardConfig, callbacks: RunCallbacks | None) -> Run:
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import set_seed

    config.validate_required()
    config.validate()
    driver = callbacks or RunCallbacks()
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    # accelerate keeps mixed precision and accumulation settings in process-wide singletons;
    # a long-lived worker that trains twice with different settings must start afresh.
    # The distributed state (PartialState) is kept.
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
    )
    cb = driver if accelerator.is_main_process else RunCallbacks()
    set_seed(config.seed)
    os.makedirs(config.output_dir, exist_ok=True)
    return Run(config, accelerator, driver, cb, time.monotonic())


@dataclass
class TrainData:
    train: list[Example]
    held: dict[str, list[Example]]  # "validation" and "test"
    load_stats: LoadStats
    split_counts: dict[str, int]


def load_data(config: RewardConfig, cb: RunCallbacks) -> TrainData:
    """Read the snapshot and hold prompts out (lines without a ``split`` field)."""
    examples, load_stats = load_preferences(config.train_file, config.labels, config.data_format)
    examples, head_counts = label_pairs(config.train_file, examples, config)
    if head_counts:
        cb.on_log(f"heads: examples per head {head_counts}; margin_loss {config.margin_loss}")
    split_counts = assign_splits(examples, config.eval_fraction, config.seed)
    train = [e for e in examples if e.split == "train"]
    held = {s: [e for e in examples if e.split == s] for s in ("validation", "test")}
    if not train:
        raise DataError(f"{config.train_file}: no training examples after the split")
    by_source: dict[str, list[int]] = {}
    for e in train:
        row = by_source.setdefault(e.source, [0, 0])
        row[0] += 1
        row[1] += len(e.pairs)
    cb.on_log(
        f"data: {len(examples)} examples, {load_stats.pairs} comparisons; train "
        f"{len(train)} examples / {sum(len(e.pairs) for e in train)} comparisons ("
        + ", ".join(f"{s}: {n} / {c}" for s, (n, c) in sorted(by_source.items()))
        + f"), validation {len(held['validation'])}, test {len(held['test'])}"
    )
    if split_counts["unsplit_examples"]:
        cb.on_log(
            f"note: {split_counts['unsplit_examples']} examples had no 'split'; "
            f"{split_counts['unsplit_held_out']} of them were held out for validation by prompt "
            f"(eval_fraction {config.eval_fraction}, seed {config.seed})"
            + ("" if config.eval_fraction else ": none, eval_fraction is 0")
        )
    return TrainData(train, held, load_stats, split_counts)


def load_model(config: RewardConfig):
    """Tokenizer and ``AutoModelForSequenceClassification`` with one output (LoRA-wrapped
    when ``lora_r`` > 0)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.model_name_or_path)
    n_outputs = HeadLayout.from_config(config).n_outputs
    # A base saved with a one-output head gets a fresh one of n_outputs rows.
    more = {"ignore_mismatched_sizes": True} if n_outputs > 1 else {}
    model = AutoModelForSequenceClassification.from_pretrained(
        config.model_name_or_path, num_labels=n_outputs, **more
    )
    ensure_pad_token(tokenizer, model)
    if config.disable_dropout:
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
    if config.gradient_checkpointing:
        # Non-reentrant checkpointing works with DDP and frozen (LoRA) inputs.
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable({"use_reentrant": False})
        model.config.use_cache = False
    if config.lora_r > 0:
        from peft import LoraConfig, TaskType, get_peft_model

        lora = LoraConfig(
            task_type=TaskType.SEQ_CLS,  # keeps the freshly initialised reward head trainable
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.lora_target_modules,
        )
        model = get_peft_model(model, lora)
    return tokenizer, model


@dataclass
class EncodedData:
    """Every completion tokenised once, per example, plus what the batches are weighted by."""

    train: list[list[Encoded]]
    train_truncation: dict[str, int]
    held: dict[str, tuple[list[list[Encoded]], dict[str, int]]]
    pair_weights: list[list[float]] | None
    sources: list[str] | None
    pad_id: int
    heads: Any = None  # rlhf.reward_heads.HeadTraining when the model has several outputs
    # Each example's number of pairs when ``batch_unit`` is ``comparisons``.
    comparisons: list[int] | None = None


def encode_data(config: RewardConfig, tokenizer, data: TrainData) -> EncodedData:
    """Encode; with ``overlong: drop``, ``data.train`` loses the over-long comparisons."""
    from rlhf.reward_model import (
        balanced_pair_weights,
        drop_overlong,
        encode_examples,
        source_pair_weights,
    )

    train_enc, trunc_train = encode_examples(tokenizer, data.train, config.max_length,
                                             *input_layout(config))  # fmt: skip
    if config.overlong == "drop":
        data.train, train_enc, dropped = drop_overlong(data.train, train_enc)
        left = {"sequences": sum(map(len, train_enc)), "examples_truncated": 0}
        trunc_train = {**trunc_train, **dropped, **left}
    held_enc = {
        s: encode_examples(tokenizer, ex, config.max_length, *input_layout(config))
        for s, ex in data.held.items()
    }
    pair_weights = None
    if config.length_debias == "balanced_pairs":
        pair_weights = balanced_pair_weights(data.train, config.length_debias_coef)
    if config.weighting == "source":
        pair_weights = source_pair_weights(data.train, pair_weights)
    sources = [e.source for e in data.train] if config.mix_sources else None
    from rlhf.reward_heads import prepare_heads

    per = [len(e.pairs) for e in data.train] if config.batch_unit == "comparisons" else None
    return EncodedData(train_enc, trunc_train, held_enc, pair_weights, sources,
                       tokenizer.pad_token_id, prepare_heads(config, data.train),
                       per)  # fmt: skip


def input_layout(config: RewardConfig) -> tuple[str, float]:
    """The ``encode_examples`` arguments after ``max_length``."""
    return (config.input_layout, config.prompt_min_fraction)


@dataclass
class Schedule:
    """Batches are planned per epoch from the seed, then dealt to the ranks."""

    config: RewardConfig
    enc: EncodedData
    world: int
    rank: int
    steps_per_epoch: int = 0
    total_steps: int = 0
    warmup: int = 0

    def __post_init__(self) -> None:
        config, accum = self.config, self.config.gradient_accumulation_steps
        self.steps_per_epoch = len(self.epoch_batches(0)) // accum
        self.total_steps = config.max_steps or math.ceil(config.num_epochs * self.steps_per_epoch)
        self.warmup = config.warmup_steps or math.ceil(config.warmup_ratio * self.total_steps)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        from rlhf.reward_model import plan_batches

        c = self.config
        batches = plan_batches(self.enc.train, c.batch_size, c.seed, epoch, c.length_bucketing,
                               c.bucket_batches, self.enc.sources,
                               self.enc.comparisons)  # fmt: skip
        # Every rank runs the same number of whole accumulation groups: DDP and FSDP hang
        # otherwise, and accelerate's accumulate() syncs on a fixed cadence. The shortfall is
        # filled by repeating the epoch's first batches.
        unit = self.world * c.gradient_accumulation_steps
        short = -len(batches) % unit
        batches += [batches[i % len(batches)] for i in range(short)]
        return batches[self.rank :: self.world]

    def epoch_groups(self, epoch: int) -> list[list[list[int]]]:
        """The epoch's batches of this rank, one group of micro-batches per optimiser step."""
        accum = self.config.gradient_accumulation_steps
        batches = self.epoch_batches(epoch)
        return [batches[s : s + accum] for s in range(0, len(batches), accum)]


@dataclass
class Trainee:
    module: Any  # RewardModule, prepared by accelerate
    optimizer: Any
    scheduler: Any


HEAD_MODULES = ("classifier", "score", "pooler")


def param_groups(module, lr: float, head_lr: float) -> list[dict]:
    """Trainable parameters, the head's apart when it has its own rate: parameters under a
    module named ``classifier`` or ``score`` (the ``*ForSequenceClassification`` heads) or
    ``pooler`` (BERT's, fed only to the head). The scheduler scales both groups alike."""
    trunk, head = [], []
    for name, p in module.named_parameters():
        if p.requires_grad:
            (head if set(name.split(".")) & set(HEAD_MODULES) else trunk).append(p)
    if not head_lr or not head:
        return [{"params": trunk + head, "lr": lr}]
    return [{"params": trunk, "lr": lr}, {"params": head, "lr": head_lr}]


def build_optimizer(run: Run, model, schedule: Schedule) -> Trainee:
    import torch
    from accelerate.utils import DistributedType

    from rlhf.reward_model import RewardModule, lr_lambda

    config, accelerator = run.config, run.accelerator
    module = RewardModule(model)
    params = param_groups(module, config.learning_rate, config.head_learning_rate)
    adam = dict(lr=config.learning_rate, weight_decay=config.weight_decay,
                betas=(config.adam_beta1, config.adam_beta2), eps=config.adam_epsilon)  # fmt: skip
    # The fused kernel is ~10x cheaper per step than the default on CPU (0.05 s against
    # 0.5-0.8 s for MiniLM's 23M parameters), a sizeable part of a small model's step.
    # DeepSpeed brings its own optimiser step; anything else unsupported falls back.
    use_fused = accelerator.device.type in ("cpu", "cuda") and (
        accelerator.distributed_type != DistributedType.DEEPSPEED
    )
    try:
        optimizer = torch.optim.AdamW(params, fused=use_fused or None, **adam)
    except (RuntimeError, ValueError):
        optimizer = torch.optim.AdamW(params, **adam)
    # Stepped by hand once per optimiser step: prepare() would step it once per process.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(schedule.total_steps, schedule.warmup, config.lr_scheduler)
    )
    module, optimizer = accelerator.prepare(module, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    return Trainee(module, optimizer, scheduler)


@dataclass
class Position:
    """Where training (re)starts."""

    global_step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    resumed_from: str | None = None


def resume(run: Run) -> Position:
    """``resume_from``: ``latest`` or a checkpoint directory; nothing when there is none."""
    resume_from = run.config.resume_from
    if resume_from == "latest":
        found = latest_checkpoint(run.config.output_dir)
        resume_from = str(found) if found else None
    if not resume_from:
        return Position()
    state = load_checkpoint(run.accelerator, resume_from)
    position = Position(state["global_step"], state["epoch"], state["step_in_epoch"], resume_from)
    run.cb.on_log(f"resumed from {resume_from} at step {position.global_step}")
    return position


def announce_start(run: Run, data: TrainData, enc: EncodedData, schedule: Schedule,
                   start_step: int) -> None:  # fmt: skip
    config = run.config
    train_tokens = sum(len(x.input_ids) for encs in enc.train for x in encs)
    info = {
        "train_examples": len(data.train),
        "train_pairs": sum(len(e.pairs) for e in data.train),
        "validation_examples": len(data.held["validation"]),
        "test_examples": len(data.held["test"]),
        "steps_per_epoch": schedule.steps_per_epoch,
        "world_size": run.world,
        "start_step": start_step,
        "train_sequences": enc.train_truncation["sequences"],
        "train_tokens": train_tokens,
        "train_truncated_examples": enc.train_truncation["examples_truncated"],
        "setup_seconds": round(time.monotonic() - run.t_start, 1),
    }
    if "pairs_dropped" in enc.train_truncation:
        run.cb.on_log(
            f"overlong: drop: {enc.train_truncation['pairs_dropped']} comparisons and "
            f"{enc.train_truncation['examples_dropped']} examples longer than "
            f"{config.max_length} tokens left out"
        )
    run.cb.on_log(
        f"start: {info['train_examples']} examples, {info['train_pairs']} comparisons, "
        f"{train_tokens} tokens in {info['train_sequences']} sequences "
        f"({info['train_truncated_examples']} examples truncated to {config.max_length}); "
        f"{schedule.total_steps} optimiser steps ({schedule.steps_per_epoch} per epoch), "
        f"from step {start_step}; weighting {config.weighting}, layout {config.input_layout}, "
        f"lr {config.learning_rate:g}"
        + (f" (head {config.head_learning_rate:g})" if config.head_learning_rate else "")
        + f" {config.lr_scheduler}; set up in {info['setup_seconds']} s"
    )
    run.cb.on_start(schedule.total_steps, info)

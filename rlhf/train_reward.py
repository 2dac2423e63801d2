"""Train a reward model on ranked completions (InstructGPT's recipe), top to bottom.

    python -m rlhf.train_reward --config run.json [--output-dir DIR] [--resume]
    accelerate launch -m rlhf.train_reward --config run.json

Reads a rankings or pairwise snapshot, holds out prompts, trains a
``AutoModelForSequenceClassification`` with one output on the K-wise pair loss, shifts the
rewards so training completions average zero, evaluates, and writes a Hugging Face model
directory plus ``rankwise_card.json``. Options: :class:`rlhf.config.RewardConfig`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import sys
import time
from datetime import UTC, datetime

from rlhf.callbacks import PrintCallbacks, RunCallbacks, StopRequested
from rlhf.config import ConfigError, RewardConfig
from rlhf.data import DataError, assign_splits, load_preferences
from rlhf.eval_sets import load_eval_file
from rlhf.scoring import CARD_NAME, ensure_pad_token
from rlhf.utils import code_version, write_json

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "trainer_state.json"


def latest_checkpoint(output_dir: str) -> str | None:
    root = os.path.join(output_dir, CHECKPOINT_DIR)
    if not os.path.isdir(root):
        return None
    steps = [
        (int(m.group(1)), name)
        for name in os.listdir(root)
        if (m := re.fullmatch(r"step-(\d+)", name))
        and os.path.exists(os.path.join(root, name, STATE_FILE))
    ]
    return os.path.join(root, max(steps)[1]) if steps else None


def _load_model(config: RewardConfig):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.model_name_or_path)
    model = AutoModelForSequenceClassification.from_pretrained(
        config.model_name_or_path, num_labels=1
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


def _save_model(accelerator, module, tokenizer, out_dir: str, lora: bool) -> None:
    state = accelerator.get_state_dict(module)  # full weights even when sharded (FSDP)
    if not accelerator.is_main_process:
        return
    inner = accelerator.unwrap_model(module).model
    prefix = "model."
    state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if lora:
        inner.load_state_dict(state)
        inner.merge_and_unload().save_pretrained(out_dir, safe_serialization=True)
    else:
        inner.save_pretrained(out_dir, state_dict=state, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def input_card(tokenizer, config: RewardConfig) -> dict:
    """How to turn (prompt, completion) into this model's input, for the model card."""
    from rlhf.scoring import TEXT_TEMPLATE

    card = {
        "layout": config.input_layout,
        "max_length": config.max_length,
        "prompt_min_fraction": config.prompt_min_fraction,
    }
    if config.input_layout != "text":
        card["how"] = "rlhf.scoring.encode_example(layout='pair'); see rlhf/scoring.py"
        return card
    from rlhf.scoring import _layout

    layout = _layout(tokenizer)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    decoder = not layout.uses_pairs
    # The same rule as encode_example: decoders end on EOS unless it doubles as padding.
    closing = decoder and eos is not None and eos != pad and eos not in layout.single_suffix
    card["template"] = (
        ("User: " if decoder else "") + TEXT_TEMPLATE + (tokenizer.eos_token if closing else "")
    )
    card["how"] = (
        "reward = model(**tokenizer(template.format(prompt=PROMPT, completion=COMPLETION), "
        "return_tensors='pt')).logits[0, 0] - reward_offset. PROMPT is the prompt string, or "
        "a message list as 'Role: content' turns joined by blank lines (a message list and a "
        "tokenizer with a chat template: the chat template, the completion as the last "
        "assistant turn). When the tokens exceed max_length the prompt keeps its last tokens "
        "(at least prompt_min_fraction of the room), the completion its first; "
        "python -m rlhf.score applies exactly this."
    )
    return card


def train_reward(config: RewardConfig, callbacks: RunCallbacks | None = None) -> dict:
    """Train, evaluate and save; returns metrics and output paths.

    Raises :class:`StopRequested` when ``callbacks.should_stop()`` answers True (checked
    before every optimiser step).
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, set_seed

    from rlhf.evaluate import pair_metrics, score_examples
    from rlhf.reward_model import (
        RewardModule,
        balanced_pair_weights,
        batch_rewards,
        encode_examples,
        length_correlation,
        lr_lambda,
        make_batch,
        plan_batches,
        preference_loss,
        source_pair_weights,
    )

    config.validate_required()
    config.validate_values()
    driver = callbacks or RunCallbacks()
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    accum = config.gradient_accumulation_steps
    # accelerate keeps mixed precision and accumulation settings in process-wide singletons;
    # a long-lived worker that trains twice with different settings must start afresh.
    # The distributed state (PartialState) is kept.
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision, gradient_accumulation_steps=accum
    )
    world, rank = accelerator.num_processes, accelerator.process_index
    # Only the main process reports; the others stay quiet but follow its stop decision.
    cb = driver if accelerator.is_main_process else RunCallbacks()

    def stop_requested() -> bool:
        stop = [driver.should_stop() if accelerator.is_main_process else False]
        if world > 1:
            from accelerate.utils import broadcast_object_list

            broadcast_object_list(stop)
        return bool(stop[0])

    set_seed(config.seed)
    os.makedirs(config.output_dir, exist_ok=True)

    # ---- data: read, split by prompt, encode every completion once ----
    t_start = time.monotonic()
    examples, load_stats = load_preferences(config.train_file, config.labels, config.data_format)
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

    tokenizer, model = _load_model(config)
    pad_id = tokenizer.pad_token_id
    layout = (config.input_layout, config.prompt_min_fraction)
    train_enc, trunc_train = encode_examples(tokenizer, train, config.max_length, *layout)
    held_enc = {
        s: encode_examples(tokenizer, ex, config.max_length, *layout) for s, ex in held.items()
    }
    pair_weights = None
    if config.length_debias == "balanced_pairs":
        pair_weights = balanced_pair_weights(train, config.length_debias_coef)
    if config.weighting == "source":
        pair_weights = source_pair_weights(train, pair_weights)
    sources = [e.source for e in train] if config.mix_sources else None

    # ---- schedule: batches are planned per epoch from the seed, then dealt to ranks ----
    def epoch_batches(epoch: int) -> list[list[int]]:
        batches = plan_batches(
            train_enc,
            config.batch_size,
            config.seed,
            epoch,
            config.length_bucketing,
            config.bucket_batches,
            sources,
        )
        # Every rank runs the same number of whole accumulation groups: DDP and FSDP hang
        # otherwise, and accelerate's accumulate() syncs on a fixed cadence. The shortfall is
        # filled by repeating the epoch's first batches.
        unit = world * accum
        short = -len(batches) % unit
        batches += [batches[i % len(batches)] for i in range(short)]
        return batches[rank::world]

    local_per_epoch = len(epoch_batches(0))
    steps_per_epoch = local_per_epoch // accum
    total_steps = config.max_steps or math.ceil(config.num_epochs * steps_per_epoch)
    warmup = config.warmup_steps or math.ceil(config.warmup_ratio * total_steps)

    module = RewardModule(model)
    params = [p for p in module.parameters() if p.requires_grad]
    adam = dict(
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
    )
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
        optimizer, lr_lambda(total_steps, warmup, config.lr_scheduler)
    )
    module, optimizer = accelerator.prepare(module, optimizer)
    accelerator.register_for_checkpointing(scheduler)

    # ---- resume ----
    global_step, start_epoch, start_in_epoch = 0, 0, 0
    resume_from = config.resume_from
    if resume_from == "latest":
        resume_from = latest_checkpoint(config.output_dir)
    if resume_from:
        accelerator.load_state(resume_from)
        with open(os.path.join(resume_from, STATE_FILE), encoding="utf-8") as fh:
            state = json.load(fh)
        global_step, start_epoch = state["global_step"], state["epoch"]
        start_in_epoch = state["step_in_epoch"]
        cb.on_log(f"resumed from {resume_from} at step {global_step}")

    train_tokens = sum(len(x.input_ids) for encs in train_enc for x in encs)
    info = {
        "train_examples": len(train),
        "train_pairs": sum(len(e.pairs) for e in train),
        "validation_examples": len(held["validation"]),
        "test_examples": len(held["test"]),
        "steps_per_epoch": steps_per_epoch,
        "world_size": world,
        "start_step": global_step,
        "train_sequences": trunc_train["sequences"],
        "train_tokens": train_tokens,
        "train_truncated_examples": trunc_train["examples_truncated"],
        "setup_seconds": round(time.monotonic() - t_start, 1),
    }
    cb.on_log(
        f"start: {info['train_examples']} examples, {info['train_pairs']} comparisons, "
        f"{train_tokens} tokens in {info['train_sequences']} sequences "
        f"({info['train_truncated_examples']} examples truncated to {config.max_length}); "
        f"{total_steps} optimiser steps ({steps_per_epoch} per epoch), from step {global_step}; "
        f"weighting {config.weighting}, layout {config.input_layout}, "
        f"lr {config.learning_rate:g} {config.lr_scheduler}; set up in {info['setup_seconds']} s"
    )
    cb.on_start(total_steps, info)

    def save_checkpoint(epoch: int, step_in_epoch: int) -> None:
        path = os.path.join(config.output_dir, CHECKPOINT_DIR, f"step-{global_step}")
        accelerator.save_state(path)
        if accelerator.is_main_process:
            write_json(
                os.path.join(path, STATE_FILE),
                {
                    "global_step": global_step,
                    "epoch": epoch,
                    "step_in_epoch": step_in_epoch,
                    "total_steps": total_steps,
                    "config": config.to_dict(),
                },
            )
            if config.keep_checkpoints > 0:
                root = os.path.join(config.output_dir, CHECKPOINT_DIR)
                old = sorted(
                    (int(n.split("-")[1]), n)
                    for n in os.listdir(root)
                    if re.fullmatch(r"step-\d+", n)
                )
                for _, name in old[: -config.keep_checkpoints]:
                    shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        accelerator.wait_for_everyone()
        cb.on_checkpoint(global_step, path)

    # ---- train ----
    module.train()
    device = accelerator.device
    tokens = pads = comparisons = 0
    run_loss = run_hits = run_pairs = 0.0
    t_train, cpu_train = time.monotonic(), time.process_time()
    t_log, comps_log = t_train, 0
    epoch = start_epoch
    while global_step < total_steps:
        batches = epoch_batches(epoch)
        groups = [batches[s : s + accum] for s in range(0, len(batches), accum)]
        first = start_in_epoch if epoch == start_epoch else 0
        for step_in_epoch in range(first, len(groups)):
            if global_step >= total_steps:
                break
            if stop_requested():
                raise StopRequested(f"stop requested before step {global_step + 1}")
            group = groups[step_in_epoch]
            for idx in group:
                batch = make_batch(
                    [train[i] for i in idx],
                    [train_enc[i] for i in idx],
                    pad_id,
                    config.forward_chunk_size,
                    [pair_weights[i] for i in idx] if pair_weights is not None else None,
                ).to(device)
                # accumulate() skips the gradient all-reduce and the optimiser step until the
                # group's last micro-batch and scales the loss by 1/accum (DeepSpeed included).
                with accelerator.accumulate(module):
                    rewards = batch_rewards(module, batch)
                    loss, gap = preference_loss(rewards, batch, config.weighting)
                    if config.length_debias == "correlation_penalty":
                        corr = length_correlation(rewards, batch.lengths)
                        loss = loss + config.length_debias_coef * corr * corr
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and config.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(module.parameters(), config.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                tokens += batch.n_tokens
                pads += batch.n_pad
                comparisons += len(gap)
                comps_log += len(gap)
                run_loss += loss.item() / len(group)
                run_hits += float((gap > 0).sum())
                run_pairs += len(gap)
            scheduler.step()
            global_step += 1

            if global_step % config.log_every == 0 or global_step == total_steps:
                now = time.monotonic()
                n_logged = global_step % config.log_every or config.log_every
                cb.on_progress(
                    global_step,
                    total_steps,
                    {
                        "loss": run_loss / n_logged,
                        "accuracy": run_hits / max(1.0, run_pairs),
                        "lr": scheduler.get_last_lr()[0],
                        "epoch": epoch + (step_in_epoch + 1) / len(groups),
                        "comparisons_per_s": comps_log * world / max(1e-9, now - t_log),
                    },
                )
                run_loss = run_hits = run_pairs = 0.0
                t_log, comps_log = now, 0
            if config.checkpoint_every and global_step % config.checkpoint_every == 0:
                at_end = step_in_epoch + 1 == len(groups)
                save_checkpoint(epoch + at_end, 0 if at_end else step_in_epoch + 1)
        epoch += 1
    train_seconds = time.monotonic() - t_train
    train_cpu_seconds = time.process_time() - cpu_train
    accelerator.wait_for_everyone()

    # ---- reward offset: training completions average zero ----
    offset_enc = train_enc
    if config.offset_max_completions and len(train_enc) > 0:
        per = max(1, sum(len(e) for e in train_enc) // len(train_enc))
        n = min(len(train_enc), max(1, config.offset_max_completions // per))
        pick = sorted(random.Random(config.seed).sample(range(len(train_enc)), n))
        offset_enc = [train_enc[i] for i in pick]
    t_eval = time.monotonic()
    unique = list({id(e): e for encs in offset_enc for e in encs}.values())
    train_scores = score_examples(module, [unique], pad_id, config.eval_batch_size, accelerator)
    reward_offset = sum(train_scores[0]) / len(unique)

    # ---- evaluation ----
    metrics: dict = {}
    truncation = {"train": trunc_train}
    for split, (encs, trunc) in held_enc.items():
        truncation[split] = trunc
        if held[split]:
            rewards = score_examples(module, encs, pad_id, config.eval_batch_size, accelerator)
            rewards = [[r - reward_offset for r in rs] for rs in rewards]
            metrics[split] = pair_metrics(held[split], rewards, config.agreement_buckets)
    for path in config.eval_files:
        extra = load_eval_file(path, config.labels)
        encs, trunc = encode_examples(tokenizer, extra, config.max_length, *layout)
        rewards = score_examples(module, encs, pad_id, config.eval_batch_size, accelerator)
        rewards = [[r - reward_offset for r in rs] for rs in rewards]
        name = os.path.basename(path)
        metrics[name] = pair_metrics(extra, rewards, config.agreement_buckets)
        truncation[name] = trunc
    eval_seconds = time.monotonic() - t_eval

    training = {
        "steps": global_step,
        "epochs": config.num_epochs if not config.max_steps else global_step / steps_per_epoch,
        "train_seconds": train_seconds,
        # CPU time of this process: on a shared machine, less noisy than wall time.
        "train_cpu_seconds": train_cpu_seconds,
        "comparisons_seen": comparisons * world,
        "comparisons_per_s": comparisons * world / max(1e-9, train_seconds),
        "padding_fraction": pads / max(1, tokens),
        "eval_seconds": eval_seconds,
        "world_size": world,
    }
    if resume_from:
        training["resumed_from"] = resume_from
    result = {
        "metrics": metrics,
        "training": training,
        "reward_offset": reward_offset,
        "truncation": truncation,
        "data": {**load_stats.as_dict(), "splits": split_counts},
        "output_dir": config.output_dir,
    }

    # ---- save ----
    if config.save_model:
        _save_model(accelerator, module, tokenizer, config.output_dir, config.lora_r > 0)
        card = {
            "kind": "reward_model",
            "base_model": config.model_name_or_path,
            "snapshot_id": config.snapshot_id,
            "snapshot_sha256": config.snapshot_sha256,
            "reward_offset": reward_offset,
            "max_length": config.max_length,
            "input": input_card(tokenizer, config),
            "config": config.to_dict(),
            "metrics": metrics,
            "training": training,
            "truncation": truncation,
            "data": result["data"],
            "code_version": code_version(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if accelerator.is_main_process:
            write_json(os.path.join(config.output_dir, CARD_NAME), card)
        result["model_dir"] = config.output_dir
        result["card_path"] = os.path.join(config.output_dir, CARD_NAME)
        accelerator.wait_for_everyone()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rlhf.train_reward",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="JSON file of RewardConfig options")
    parser.add_argument("--output-dir", help="overrides output_dir from the config")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="CKPT",
        help="resume from the latest checkpoint in output_dir (or from CKPT)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        config = RewardConfig.from_json(args.config)
        if args.output_dir:
            config.output_dir = args.output_dir
        config.validate_required()
        if args.resume:
            if args.resume == "latest" and latest_checkpoint(config.output_dir) is None:
                raise ConfigError(f"--resume: no checkpoint under {config.output_dir}")
            config.resume_from = args.resume
        result = train_reward(config, PrintCallbacks())
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StopRequested as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 130
    if os.environ.get("RANK", "0") == "0":  # one summary, not one per process
        summary = {k: result[k] for k in ("metrics", "training", "reward_offset", "output_dir")}
        print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

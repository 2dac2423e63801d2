"""The reward trainer's loop: epochs of optimiser steps, each one accumulation group.

:func:`train_loop` walks the schedule from where :func:`rlhf.reward_setup.resume` left it,
asks before every optimiser step whether to stop, runs the step (:func:`train_step`), reports
progress every ``log_every`` steps and saves a checkpoint every ``checkpoint_every``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rlhf.callbacks import StopRequested
from rlhf.checkpoint import save_checkpoint
from rlhf.reward_setup import EncodedData, Position, Run, Schedule, TrainData, Trainee


@dataclass
class Tally:
    """Counters over the whole run (tokens, padding, comparisons) and since the last report."""

    tokens: int = 0
    pads: int = 0
    comparisons: int = 0
    run_loss: float = 0.0
    run_hits: float = 0.0
    run_pairs: float = 0.0
    comps_log: int = 0
    t_log: float = field(default_factory=time.monotonic)


@dataclass
class LoopResult:
    steps: int
    train_seconds: float
    train_cpu_seconds: float
    tally: Tally


def train_loop(run: Run, data: TrainData, enc: EncodedData, schedule: Schedule,
               trainee: Trainee, start: Position) -> LoopResult:  # fmt: skip
    """Raises :class:`StopRequested` when the driver asks to stop (checked before every step)."""
    config, total = run.config, schedule.total_steps
    trainee.module.train()
    tally = Tally()
    t_train, cpu_train = time.monotonic(), time.process_time()
    tally.t_log = t_train
    global_step, epoch = start.global_step, start.epoch
    while global_step < total:
        groups = schedule.epoch_groups(epoch)
        first = start.step_in_epoch if epoch == start.epoch else 0
        for step_in_epoch in range(first, len(groups)):
            if global_step >= total:
                break
            if run.stop_requested():
                raise StopRequested(f"stop requested before step {global_step + 1}")
            train_step(run, data, enc, trainee, groups[step_in_epoch], tally)
            trainee.scheduler.step()
            global_step += 1
            if global_step % config.log_every == 0 or global_step == total:
                report_progress(run, trainee, tally, global_step, total,
                                epoch + (step_in_epoch + 1) / len(groups))  # fmt: skip
            if config.checkpoint_every and global_step % config.checkpoint_every == 0:
                at_end = step_in_epoch + 1 == len(groups)
                checkpoint(run, trainee, global_step, total,
                           epoch + at_end, 0 if at_end else step_in_epoch + 1)  # fmt: skip
        epoch += 1
    train_seconds = time.monotonic() - t_train
    train_cpu_seconds = time.process_time() - cpu_train
    run.accelerator.wait_for_everyone()
    return LoopResult(global_step, train_seconds, train_cpu_seconds, tally)


def train_step(run: Run, data: TrainData, enc: EncodedData, trainee: Trainee,
               group: list[list[int]], tally: Tally) -> None:  # fmt: skip
    """One optimiser step: forward and backward over each micro-batch of ``group``."""
    from rlhf.reward_model import batch_rewards, length_correlation, make_batch, preference_loss

    config, accelerator, module = run.config, run.accelerator, trainee.module
    weights = enc.pair_weights
    for idx in group:
        batch = make_batch(
            [data.train[i] for i in idx],
            [enc.train[i] for i in idx],
            enc.pad_id,
            config.forward_chunk_size,
            [weights[i] for i in idx] if weights is not None else None,
        ).to(accelerator.device)
        # accumulate() skips the gradient all-reduce and the optimiser step until the
        # group's last micro-batch and scales the loss by 1/accum (DeepSpeed included).
        with accelerator.accumulate(module):
            rewards = batch_rewards(module, batch)
            if enc.heads is not None:
                from rlhf.reward_heads import heads_loss

                loss, gap, rewards = heads_loss(rewards, batch, enc.heads, idx, config.weighting)
            else:
                loss, gap = preference_loss(rewards, batch, config.weighting)
            if config.length_debias == "correlation_penalty":
                corr = length_correlation(rewards, batch.lengths)
                loss = loss + config.length_debias_coef * corr * corr
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.max_grad_norm > 0:
                accelerator.clip_grad_norm_(module.parameters(), config.max_grad_norm)
            trainee.optimizer.step()
            trainee.optimizer.zero_grad(set_to_none=True)
        tally.tokens += batch.n_tokens
        tally.pads += batch.n_pad
        tally.comparisons += len(gap)
        tally.comps_log += len(gap)
        tally.run_loss += loss.item() / len(group)
        tally.run_hits += float((gap > 0).sum())
        tally.run_pairs += len(gap)


def report_progress(run: Run, trainee: Trainee, tally: Tally, step: int, total: int,
                    epoch: float) -> None:  # fmt: skip
    """Loss and accuracy averaged since the last report; resets those counters."""
    log_every = run.config.log_every
    now = time.monotonic()
    n_logged = step % log_every or log_every
    run.cb.on_progress(
        step,
        total,
        {
            "loss": tally.run_loss / n_logged,
            "accuracy": tally.run_hits / max(1.0, tally.run_pairs),
            "lr": trainee.scheduler.get_last_lr()[0],
            "epoch": epoch,
            "comparisons_per_s": tally.comps_log * run.world / max(1e-9, now - tally.t_log),
        },
    )
    tally.run_loss = tally.run_hits = tally.run_pairs = 0.0
    tally.t_log, tally.comps_log = now, 0


def checkpoint(run: Run, trainee: Trainee, step: int, total: int, epoch: int,
               step_in_epoch: int) -> None:  # fmt: skip
    """Save where the next step starts: (``epoch``, ``step_in_epoch``)."""
    config = run.config
    state = {"global_step": step, "epoch": epoch, "step_in_epoch": step_in_epoch,
             "total_steps": total, "config": config.to_dict()}  # fmt: skip
    path = save_checkpoint(run.accelerator, config.output_dir, step, state,
                           keep=config.keep_checkpoints)  # fmt: skip
    run.cb.on_checkpoint(step, str(path))

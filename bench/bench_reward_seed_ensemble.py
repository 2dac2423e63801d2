"""Do reward models trained on different seeds (or recipes) score better together than alone?

Issue 13's best recipe moved dev accuracy by 3 points between two seeds. Two runs of one
thread each fit the reference's budget side by side (TRL: 1,899 s of wall time on 2 threads),
so the question is whether averaging them is worth the second core. Each model scores the dev
pairs once; the ensemble scores a completion by the mean of the members' rewards after each
member's rewards are divided by their own standard deviation over the dev completions (no
labels used), so one model's wider scale cannot outvote the other.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_reward_seed_ensemble.py \
        --models /tmp/rmq0/rm-drop-pairs /tmp/rmq1/rm-drop-pairs \
        --dev /tmp/rmq0/split/dev.pairs.jsonl [--json out.json]

The models come from ``bench_reward_quality.py --rows drop-pairs --save --seed N``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def member_rewards(model_dir: str, examples, threads: int) -> np.ndarray:
    """One reward per (example, completion), flattened in example order."""
    import torch

    from rlhf.scoring import RewardScorer

    torch.set_num_threads(threads)
    scorer = RewardScorer.from_pretrained(model_dir)
    prompts = [ex.prompt for ex in examples for _ in ex.completions]
    texts = [t for ex in examples for t in ex.completions]
    return np.asarray(scorer.score(prompts, texts, 16), dtype=float)


def metrics(examples, flat: np.ndarray) -> dict:
    from rlhf.evaluate import pair_metrics

    rewards, i = [], 0
    for ex in examples:
        rewards.append([float(x) for x in flat[i : i + len(ex.completions)]])
        i += len(ex.completions)
    m = pair_metrics(examples, rewards)
    return {
        "accuracy": m["accuracy"],
        "ci95": m["accuracy_ci95"],
        "n_pairs": m["n_pairs"],
        "picks_longer": m["picks_longer_rate"],
        "by_source": m.get("by_source", {}),
    }


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def fmt(label: str, m: dict, sources: list[str]) -> str:
    """One table row: overall accuracy, then each source's accuracy and longer-answer rate."""
    lo, hi = m["ci95"]
    parts = [m["by_source"].get(s, {}) for s in sources]
    accs = " | ".join(_num(p.get("accuracy")) for p in parts)
    longer = " / ".join(_num(p.get("picks_longer_rate")) for p in parts)
    return f"| {label} | {m['accuracy']:.3f} [{lo:.3f}, {hi:.3f}] | {accs} | {longer} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", required=True, help="saved reward-model dirs")
    parser.add_argument(
        "--dev", required=True, help="the dev pairs (anchor_split's dev.pairs.jsonl)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write every row's figures here")
    args = parser.parse_args(argv)

    from rlhf.data import load_preferences

    examples, _ = load_preferences(args.dev)
    members = [member_rewards(d, examples, args.threads) for d in args.models]
    scaled = [r / (r.std() or 1.0) for r in members]

    rows = [(f"member {i}: {Path(d).parent.name}/{Path(d).name}", metrics(examples, r))
            for i, (d, r) in enumerate(zip(args.models, members, strict=True))]  # fmt: skip
    # Every subset of two or more members, so three seeds also show each pair's figure.
    for k in range(2, len(members) + 1):
        for combo in itertools.combinations(range(len(members)), k):
            mean = np.mean([scaled[i] for i in combo], axis=0)
            rows.append((f"mean of members {', '.join(map(str, combo))}", metrics(examples, mean)))

    sources = sorted({ex.source for ex in examples})
    print(f"| model | dev [95% CI] | {' | '.join(sources)} | picks longer {' / '.join(sources)} |")
    print("|---|---|" + "---|" * len(sources) + "---|")
    for label, m in rows:
        print(fmt(label, m, sources))
    if args.json:
        args.json.write_text(json.dumps([{"row": label, **m} for label, m in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

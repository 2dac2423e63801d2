"""Score a file with a trained reward model.

    python -m rlhf.score --model DIR --input pairs.jsonl [--output scores.jsonl]

Input formats:

* pairwise JSONL (``prompt``, ``chosen``, ``rejected``): writes ``chosen_score`` and
  ``rejected_score`` per line and prints pairwise accuracy with a Wilson 95% interval;
* rankings JSONL: writes a score per completion id and prints accuracy over the pairs the
  annotations imply;
* LLMBar JSON (``[{input, output_1, output_2, label}]``): like pairwise;
* plain JSONL of ``prompt`` (or ``messages``) plus ``completion``: writes ``score`` only.

Scores are offset-corrected (``reward_offset`` from the model's ``rankwise_card.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from rlhf.data import DataError, Example, iter_jsonl, load_preferences
from rlhf.eval_sets import load_llmbar


def _plain_rows(path: str) -> list[tuple[int, object, str]] | None:
    """(line, prompt, completion) when the file is plain prompt/completion lines."""
    rows = []
    for lineno, obj in iter_jsonl(path):
        if "completion" not in obj:
            return None
        prompt = obj.get("messages", obj.get("prompt"))
        if prompt is None or not isinstance(obj["completion"], str):
            raise DataError(f"{path}:{lineno}: needs 'prompt' (or 'messages') and 'completion'")
        rows.append((lineno, prompt, obj["completion"]))
    return rows


def score_file(scorer, path: str, out_path: str, batch_size: int = 16) -> dict:
    """Score every line of ``path`` into ``out_path``; returns a summary (accuracy if any)."""
    from rlhf.evaluate import pair_metrics

    plain = None if path.endswith(".json") else _plain_rows(path)
    if plain is not None:
        prompts, texts = [p for _, p, _ in plain], [c for _, _, c in plain]
        scores = scorer.score(prompts, texts, batch_size)
        # Several heads: each head's member mean and spread beside the overall score.
        heads = getattr(scorer, "heads", None) and scorer.score_heads(prompts, texts, batch_size)
        with open(out_path, "w", encoding="utf-8") as fh:
            for i, ((lineno, _, _), s) in enumerate(zip(plain, scores, strict=True)):
                row = {"line": lineno, "score": s}
                if heads:
                    row["heads"] = {h: {"mean": float(m[:, i].mean()), "spread": float(m[:, i].std())}
                                    for h, m in heads.items()}  # fmt: skip
                fh.write(json.dumps(row) + "\n")
        return {"n_scored": len(scores), "output": out_path}

    examples: list[Example]
    if path.endswith(".json"):
        examples = load_llmbar(path)
    else:
        examples, _ = load_preferences(path)
    # Annotations of one prompt repeat its completions; score each (prompt, text) once.
    keys, index = [], {}
    for ex in examples:
        for text in ex.completions:
            key = (json.dumps(ex.prompt), text)
            if key not in index:
                index[key] = len(keys)
                keys.append((ex.prompt, text))
    flat = scorer.score([p for p, _ in keys], [t for _, t in keys], batch_size)
    rewards = [[flat[index[(json.dumps(ex.prompt), t)]] for t in ex.completions] for ex in examples]

    with open(out_path, "w", encoding="utf-8") as fh:
        for ex, rs in zip(examples, rewards, strict=True):
            if len(ex.completions) == 2 and len(ex.pairs) == 1 and not ex.annotator:
                p = ex.pairs[0]
                row = {"line": ex.line, "chosen_score": rs[p.better], "rejected_score": rs[p.worse]}
            else:
                row = {"line": ex.line, "id": ex.prompt_id, "annotator": ex.annotator, "scores": rs}
            fh.write(json.dumps(row) + "\n")
    summary = pair_metrics(examples, rewards)
    summary["output"] = out_path
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rlhf.score",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="directory written by rlhf.train_reward")
    parser.add_argument(
        "--input", required=True, help="JSONL (pairwise/rankings/plain) or LLMBar JSON"
    )
    parser.add_argument("--output", help="where scores go (default: INPUT name + .scores.jsonl)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="float32 (default), bfloat16 or float16")
    args = parser.parse_args(argv)

    from rlhf.scoring import RewardScorer

    out = args.output or os.path.basename(args.input).split(".")[0] + ".scores.jsonl"
    try:
        scorer = RewardScorer.from_pretrained(args.model, device=args.device, dtype=args.dtype)
        summary = score_file(scorer, args.input, out, args.batch_size)
    except (DataError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "accuracy" in summary:
        lo, hi = summary["accuracy_ci95"]
        print(
            f"pairwise accuracy {summary['accuracy']:.4f} [{lo:.3f}, {hi:.3f}] over "
            f"{summary['n_pairs']} pairs; length baseline "
            f"{summary['length_baseline_accuracy']:.4f}; picks longer "
            f"{summary['picks_longer_rate'] if summary['picks_longer_rate'] is not None else 'n/a'}"
        )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

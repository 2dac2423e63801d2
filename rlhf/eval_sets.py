"""Evaluation sets beside a snapshot's own validation split: LLMBar's gold pairs, or any
rankings/pairwise file read whole (``RewardConfig.eval_files``, ``python -m rlhf.score``)."""

from __future__ import annotations

import json

from rlhf.data import DataError, Example, Pair, load_preferences


def load_llmbar(path: str) -> list[Example]:
    """LLMBar's ``[{input, output_1, output_2, label: 1|2}]`` as K = 2 examples."""
    with open(path, encoding="utf-8") as fh:
        items = json.load(fh)
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a JSON list of {{input, output_1, output_2, label}}")
    out = []
    for i, it in enumerate(items):
        where = f"{path}: item {i}"
        if not isinstance(it, dict):
            raise DataError(f"{where}: expected an object")
        for fld in ("input", "output_1", "output_2"):
            if not isinstance(it.get(fld), str):
                raise DataError(f"{where}: field {fld!r} missing or not a string")
        label = str(it.get("label"))
        if label not in ("1", "2"):
            raise DataError(f"{where}: field 'label' must be 1 or 2, got {it.get('label')!r}")
        better, worse = (0, 1) if label == "1" else (1, 0)
        out.append(
            Example(
                f"item{i}",
                it["input"],
                [it["output_1"], it["output_2"]],
                [Pair(better, worse)],
                "test",
                line=i,
            )
        )
    return out


def load_eval_file(path: str, labels: str = "annotations") -> list[Example]:
    """An extra evaluation set: LLMBar JSON, or a rankings/pairwise JSONL (all lines)."""
    if str(path).endswith(".json"):
        return load_llmbar(path)
    examples, _ = load_preferences(path, labels)
    return examples

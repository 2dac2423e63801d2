"""What a comparison carries beyond "a beats b": a margin, and the dimension it judges.

Runs after :func:`rlhf.data.load_preferences`, and only when the run asks for it
(``margin_loss`` other than ``pairwise``, or ``dimensions``), so a default run reads its data
exactly as before. It reads the snapshot's lines again to see the fields the loader leaves
alone:

* **margins** (``margin_loss = "on"``): a pairwise line's ``margin`` times ``margin_scale``;
  a ranking pair's margin is ``margin_scale * (gap - 1)``, the gap counted in tie groups of
  the ranking it came from (``[[A], [B], [C, D]]``: A/B and B/C gap 1, margin 0; A/C gap 2,
  margin ``margin_scale``). ``off`` sets every margin to 0.
* **dimensions**: a line with ``"dimension": NAME`` judges that dimension only (its examples
  train head NAME); a rankings annotation may add ``"dimensions": {NAME: ranking}`` beside
  its overall ``ranking`` (or ``{NAME: {"ranking": ..., ...}}``, as the rankings export writes
  it), each becoming one more example for head NAME. Lines of a dimension
  the run does not train are skipped and counted. Untagged lines train ``overall``.

The dimension of an example is ``example.meta["dimension"]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from rlhf.data import DataError, Example, LoadStats, Pair, _Line, iter_jsonl, ranking_pairs
from rlhf.heads import OVERALL


def _groups(ranking: Any) -> list[list[str]]:
    return [[str(c) for c in (g if isinstance(g, list) else [g])] for g in ranking]


def _completion_ids(obj: dict) -> list[str]:
    return [str(c.get("id", i)) if isinstance(c, dict) else str(i)
            for i, c in enumerate(obj["completions"])]  # fmt: skip


def gap_margins(pairs: Iterable[Pair], ranking: Any, ids: list[str], scale: float) -> None:
    """Set each pair's margin to ``scale * (tie groups between them - 1)``."""
    group = {cid: g for g, members in enumerate(_groups(ranking)) for cid in members}
    for p in pairs:
        p.margin = scale * (group[ids[p.worse]] - group[ids[p.better]] - 1)


def _loader_rankings(obj: dict, labels: str) -> list[Any]:
    """The rankings of a line in the order the loader made examples of them (pairless skipped)."""
    if labels == "consensus":
        found = [(obj.get("consensus") or {}).get("ranking")]
    else:
        found = [a.get("ranking") for a in obj.get("annotations") or []]
    return [r for r in found if r is not None and sum(1 for g in _groups(r) if g) > 1]


def _dimension_examples(loc: _Line, obj: dict, base: Example, config,
                        stats: LoadStats) -> list[Example]:  # fmt: skip
    """One example per (annotation, dimension) from annotations' ``dimensions`` objects."""
    ids = _completion_ids(obj)
    index = {cid: i for i, cid in enumerate(ids)}
    out = []
    for a, ann in enumerate(obj.get("annotations") or []):
        dims = ann.get("dimensions") if isinstance(ann, dict) else None
        if not dims:
            continue
        if not isinstance(dims, dict):
            raise loc.fail(f"annotations[{a}].dimensions", "expected {name: ranking}")
        for name, judged in dims.items():
            if name not in config.dimensions:
                continue
            fld = f"annotations[{a}].dimensions.{name}"
            # The rankings export writes {key: {"ranking", "strength", ...}} (docs/judging.md).
            ranking = judged.get("ranking") if isinstance(judged, dict) else judged
            fld += ".ranking" if isinstance(judged, dict) else ""
            pairs = ranking_pairs(loc, fld, ranking, index, stats)
            if not pairs:
                continue
            if config.margin_loss == "on":
                gap_margins(pairs, ranking, ids, config.margin_scale)
            ex = dataclasses.replace(base, pairs=pairs, annotator=str(ann.get("annotator", a)),
                                     pair_probs=None, meta={"dimension": name})  # fmt: skip
            out.append(ex)
    return out


def _line_examples(loc: _Line, obj: dict, mine: list[Example], config,
                   counts: dict[str, int]) -> list[Example]:  # fmt: skip
    """This line's examples with margins and dimension set, plus its dimension examples."""
    dim = obj.get("dimension") or OVERALL
    if not isinstance(dim, str):
        raise loc.fail("dimension", "expected a name")
    if config.dimensions and dim != OVERALL and dim not in config.dimensions:
        counts["other_dimension_skipped"] += len(mine)
        return []
    rankings = "completions" in obj
    if config.margin_loss == "on" and rankings:
        ids = _completion_ids(obj)
        for ex, ranking in zip(mine, _loader_rankings(obj, config.labels), strict=True):
            gap_margins(ex.pairs, ranking, ids, config.margin_scale)
    elif config.margin_loss == "on":
        for ex in mine:
            for p in ex.pairs:
                p.margin *= config.margin_scale
    for ex in mine:
        ex.meta["dimension"] = dim if config.dimensions else OVERALL
        counts[ex.meta["dimension"]] = counts.get(ex.meta["dimension"], 0) + 1
    extra = []
    if config.dimensions and rankings and mine and config.labels == "annotations":
        extra = _dimension_examples(loc, obj, mine[0], config, LoadStats())
        for ex in extra:
            counts[ex.meta["dimension"]] = counts.get(ex.meta["dimension"], 0) + 1
    return mine + extra


def label_pairs(path: str, examples: list[Example], config) -> tuple[list[Example], dict]:
    """Margins and dimensions per ``config``; returns the examples and per-head counts.

    Leaves ``examples`` as they are when neither option is set.
    """
    if config.margin_loss == "pairwise" and not config.dimensions:
        return examples, {}
    if config.margin_loss == "off":
        for ex in examples:
            for p in ex.pairs:
                p.margin = 0.0
        if not config.dimensions:
            return examples, {}
    by_line: dict[int, list[Example]] = {}
    for ex in examples:
        by_line.setdefault(ex.line, []).append(ex)
    counts = {"other_dimension_skipped": 0}
    out: list[Example] = []
    for lineno, obj in iter_jsonl(path):
        if lineno in by_line:
            out.extend(_line_examples(_Line(path, lineno), obj, by_line[lineno], config, counts))
    if not out:
        raise DataError(f"{path}: no usable comparisons for the heads {config.dimensions}")
    return out, counts

"""Reading preference snapshots into training examples.

Two snapshot formats (one JSON object per line):

* ``rankings``: ``{"id", "prompt" | "messages", "completions", "annotations", "consensus"?}``;
  a ranking is a list of tie groups, best first (``[["A"], ["C"], ["D", "E"], ["B"]]``).
* ``pairwise``: ``{"prompt", "chosen", "rejected", "prompt_id"?, "margin"?, "weight"?,
  "annotator"?, "agreement"?}``.

Either may carry ``"split": "train" | "validation" | "test"``. Each becomes one
:class:`Example`: a prompt, its K completions, and the ordered (better, worse) pairs the
ranking implies, ties skipped. Pairwise lines are the K = 2 case. Every problem names the
file, the line and the field.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rlhf.scoring import Prompt
from rlhf.utils import prompt_key

SPLITS = ("train", "validation", "test")


class DataError(ValueError):
    """A snapshot line that cannot be turned into training examples."""


@dataclass
class Pair:
    better: int
    worse: int
    margin: float = 0.0
    weight: float = 1.0


@dataclass
class Example:
    """One batch element: a prompt, its completions, and the comparisons among them."""

    prompt_id: str
    prompt: Prompt
    completions: list[str]
    pairs: list[Pair]
    split: str | None = None
    agreement: float | None = None
    line: int = 0
    annotator: str | None = None
    # Human P(better beats worse) per pair, when the consensus carries pair_probs.
    pair_probs: list[float] | None = None
    # Which dataset the line came from (``source`` or ``metadata.source``; else the line's
    # format): what ``weighting = "source"`` balances and batches are mixed by.
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadStats:
    lines: int = 0
    examples: int = 0
    pairs: int = 0
    tied_pairs_skipped: int = 0
    annotations_without_pairs: int = 0
    prompts_without_consensus: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _open(path: str):
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_jsonl(path: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-blank line; bad JSON names its line."""
    with _open(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from exc
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object per line")
            yield lineno, obj


class _Line:
    """Error helper bound to one line."""

    def __init__(self, path: str, lineno: int) -> None:
        self.where = f"{path}:{lineno}"

    def fail(self, fld: str, msg: str) -> DataError:
        return DataError(f"{self.where}: field {fld!r}: {msg}")


def _messages(loc: _Line, fld: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise loc.fail(fld, "expected a non-empty list of {role, content} messages")
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise loc.fail(f"{fld}[{i}]", "message needs a string 'role'")
        if not isinstance(m.get("content"), str):
            raise loc.fail(f"{fld}[{i}]", "message needs a string 'content'")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _prompt(loc: _Line, obj: dict) -> Prompt:
    if "messages" in obj:
        return _messages(loc, "messages", obj["messages"])
    if "prompt" not in obj:
        raise loc.fail("prompt", "missing (give 'prompt' or 'messages')")
    value = obj["prompt"]
    if isinstance(value, str):
        return value
    return _messages(loc, "prompt", value)


def _split(loc: _Line, obj: dict) -> str | None:
    value = obj.get("split")
    if value is None:
        return None
    if value not in SPLITS:
        raise loc.fail("split", f"{value!r} is not one of {SPLITS}")
    return value


def _number(loc: _Line, obj: dict, fld: str, default: float | None) -> float | None:
    value = obj.get(fld, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise loc.fail(fld, f"expected a number, got {value!r}")
    return float(value)


def _prompt_id(prompt: Prompt) -> str:
    return "h" + hashlib.sha1(prompt_key(prompt).encode("utf-8")).hexdigest()[:16]


def ranking_pairs(
    loc: _Line, fld: str, ranking: Any, index: dict[str, int], stats: LoadStats
) -> list[Pair]:
    """All (better, worse) pairs a tie-group ranking implies; pairs inside a group skipped."""
    if not isinstance(ranking, list):
        raise loc.fail(fld, "expected a list of tie groups, e.g. [['A'], ['B', 'C']]")
    groups: list[list[int]] = []
    seen: set[str] = set()
    for g, group in enumerate(ranking):
        if isinstance(group, (str, int)):  # tolerate a flat ranking ["A", "B"]
            group = [group]
        if not isinstance(group, list) or not group:
            raise loc.fail(f"{fld}[{g}]", "a tie group must be a non-empty list of ids")
        members = []
        for cid in group:
            cid = str(cid)
            if cid not in index:
                raise loc.fail(f"{fld}[{g}]", f"unknown completion id {cid!r}")
            if cid in seen:
                raise loc.fail(f"{fld}[{g}]", f"completion id {cid!r} ranked twice")
            seen.add(cid)
            members.append(index[cid])
        groups.append(members)
    pairs = []
    for gi, upper in enumerate(groups):
        stats.tied_pairs_skipped += len(upper) * (len(upper) - 1) // 2
        for lower in groups[gi + 1 :]:
            pairs.extend(Pair(b, w) for b in upper for w in lower)
    return pairs


def _rankings_line(
    loc: _Line, obj: dict, labels: str, stats: LoadStats, lineno: int
) -> list[Example]:
    if "id" not in obj or not isinstance(obj["id"], (str, int)):
        raise loc.fail("id", "missing or not a string")
    prompt = _prompt(loc, obj)
    comps = obj.get("completions")
    if not isinstance(comps, list) or len(comps) < 2:
        raise loc.fail("completions", "expected a list of at least 2 completions")
    texts, index = [], {}
    for i, c in enumerate(comps):
        if isinstance(c, str):
            cid, text = str(i), c
        elif isinstance(c, dict):
            cid, text = str(c.get("id", i)), c.get("text")
            if not isinstance(text, str):
                raise loc.fail(f"completions[{i}].text", "missing or not a string")
        else:
            raise loc.fail(f"completions[{i}]", "expected a string or {id, text, model}")
        if cid in index:
            raise loc.fail(f"completions[{i}].id", f"duplicate id {cid!r}")
        index[cid] = i
        texts.append(text)

    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        raise loc.fail("metadata", "expected an object")
    consensus = obj.get("consensus")
    if consensus is not None and not isinstance(consensus, dict):
        raise loc.fail("consensus", "expected an object")
    agreement = None
    if consensus and consensus.get("agreement") is not None:
        agreement = _number(loc, consensus, "agreement", None)
    elif meta.get("agreement") is not None:
        agreement = _number(loc, meta, "agreement", None)
    split = _split(loc, obj)
    pid = str(obj["id"])

    source = _source(obj, "rankings")

    def example(pairs, annotator=None, pair_probs=None):
        return Example(
            pid, prompt, texts, pairs, split, agreement, lineno, annotator, pair_probs, source
        )

    if labels == "consensus":
        if not consensus or consensus.get("ranking") is None:
            stats.prompts_without_consensus += 1
            return []
        pairs = ranking_pairs(loc, "consensus.ranking", consensus["ranking"], index, stats)
        probs = consensus.get("pair_probs")
        pair_probs = None
        if isinstance(probs, dict):
            ids = list(index)
            pair_probs = [
                float(probs.get(f"{ids[p.better]}>{ids[p.worse]}", float("nan"))) for p in pairs
            ]
        return [example(pairs, "consensus", pair_probs)] if pairs else []

    annotations = obj.get("annotations")
    if not isinstance(annotations, list):
        raise loc.fail("annotations", "expected a list (may be empty)")
    out = []
    for a, ann in enumerate(annotations):
        if not isinstance(ann, dict) or "ranking" not in ann:
            raise loc.fail(f"annotations[{a}]", "expected an object with a 'ranking'")
        pairs = ranking_pairs(loc, f"annotations[{a}].ranking", ann["ranking"], index, stats)
        if not pairs:
            stats.annotations_without_pairs += 1
            continue
        out.append(example(pairs, str(ann.get("annotator", a))))
    return out


def _reply(loc: _Line, fld: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    msgs = _messages(loc, fld, value)
    if len(msgs) != 1 or msgs[0]["role"] != "assistant":
        raise loc.fail(fld, "a conversational reply must be exactly one assistant message")
    return msgs[0]["content"]


def _source(obj: dict, default: str) -> str:
    value = obj.get("source")
    meta = obj.get("metadata")
    if value is None and isinstance(meta, dict):
        value = meta.get("source")
    return str(value) if isinstance(value, (str, int)) and str(value) else default


HH_ASSISTANT = "\n\nAssistant:"


def split_dialogues(loc: _Line, chosen: Any, rejected: Any) -> tuple[Prompt, Any, Any]:
    """The shared prompt of two whole dialogues and the two final replies.

    Message lists: the prompt is the longest common run of leading messages, leaving at
    least the last message of each (as the importer does). Strings (hh-rlhf's
    ``\\n\\nHuman: ...\\n\\nAssistant: ...``): the prompt is everything up to the chosen
    side's last ``\\n\\nAssistant:`` turn, which the rejected side must share.
    """
    if isinstance(chosen, list) and isinstance(rejected, list):
        c, r = _messages(loc, "chosen", chosen), _messages(loc, "rejected", rejected)
        n = 0
        while n < min(len(c), len(r)) - 1 and c[n] == r[n]:
            n += 1
        if n == 0:
            raise loc.fail("prompt", "missing, and chosen and rejected share no prompt messages")
        return c[:n], c[n:], r[n:]
    if isinstance(chosen, str) and isinstance(rejected, str):
        cut = chosen.rfind(HH_ASSISTANT)
        if cut <= 0:
            raise loc.fail(
                "prompt", "missing, and 'chosen' has no '\\n\\nAssistant:' turn to split at"
            )
        head = chosen[: cut + len(HH_ASSISTANT)]
        if not rejected.startswith(head):
            raise loc.fail(
                "prompt", "missing, and the two dialogues differ before the last assistant turn"
            )
        return head, chosen[len(head) :].strip(), rejected[len(head) :].strip()
    raise loc.fail("prompt", "missing (give 'prompt', or two whole dialogues to split)")


def _pairwise_line(loc: _Line, obj: dict, lineno: int) -> Example:
    for fld in ("chosen", "rejected"):
        if fld not in obj:
            raise loc.fail(fld, "missing")
    chosen, rejected = obj["chosen"], obj["rejected"]
    if "prompt" in obj or "messages" in obj:
        prompt = _prompt(loc, obj)
    else:
        prompt, chosen, rejected = split_dialogues(loc, chosen, rejected)
    chosen = _reply(loc, "chosen", chosen)
    rejected = _reply(loc, "rejected", rejected)
    margin = _number(loc, obj, "margin", 0.0)
    weight = _number(loc, obj, "weight", 1.0)
    if weight < 0:
        raise loc.fail("weight", "must be >= 0")
    pid = obj.get("prompt_id")
    pid = str(pid) if pid is not None else _prompt_id(prompt)
    return Example(
        pid,
        prompt,
        [chosen, rejected],
        [Pair(0, 1, margin, weight)],
        _split(loc, obj),
        _number(loc, obj, "agreement", None),
        lineno,
        None if obj.get("annotator") is None else str(obj["annotator"]),
        source=_source(obj, "pairwise"),
    )


def load_preferences(
    path: str, labels: str = "annotations", data_format: str = "auto"
) -> tuple[list[Example], LoadStats]:
    """Every example in a rankings or pairwise snapshot, with load statistics."""
    stats = LoadStats()
    examples: list[Example] = []
    for lineno, obj in iter_jsonl(path):
        stats.lines += 1
        loc = _Line(path, lineno)
        kind = data_format
        if kind == "auto":
            if "completions" in obj:
                kind = "rankings"
            elif "chosen" in obj or "rejected" in obj:
                kind = "pairwise"
            else:
                raise DataError(
                    f"{path}:{lineno}: neither a rankings line ('completions') nor a pairwise "
                    "line ('chosen'/'rejected')"
                )
        if kind == "rankings":
            examples.extend(_rankings_line(loc, obj, labels, stats, lineno))
        else:
            examples.append(_pairwise_line(loc, obj, lineno))
    if not examples:
        raise DataError(f"{path}: no usable comparisons")
    stats.examples = len(examples)
    stats.pairs = sum(len(e.pairs) for e in examples)
    return examples, stats


def assign_splits(examples: list[Example], eval_fraction: float, seed: int) -> dict[str, int]:
    """Give examples without a ``split`` one, by prompt id, so a prompt never straddles splits.

    Exactly ``round(eval_fraction * n)`` of the unsplit prompt ids (at least one when there
    are two or more) go to validation, chosen by a seeded shuffle; ``eval_fraction`` 0 keeps
    them all for training. The counts come back with ``unsplit_examples`` and
    ``unsplit_held_out`` (how many had no split and how many of those were held out).
    """
    ids: list[str] = []
    seen: set[str] = set()
    for ex in examples:
        if ex.split is None and ex.prompt_id not in seen:
            seen.add(ex.prompt_id)
            ids.append(ex.prompt_id)
    rng = random.Random(seed)
    rng.shuffle(ids)
    n_val = round(eval_fraction * len(ids))
    if eval_fraction > 0 and n_val == 0 and len(ids) >= 2:
        n_val = 1
    held = set(ids[:n_val])
    unsplit = unsplit_held = 0
    for ex in examples:
        if ex.split is None:
            ex.split = "validation" if ex.prompt_id in held else "train"
            unsplit += 1
            unsplit_held += ex.split == "validation"
    counts: dict[str, int] = {}
    for ex in examples:
        counts[ex.split] = counts.get(ex.split, 0) + 1
    counts["unsplit_examples"] = unsplit
    counts["unsplit_held_out"] = unsplit_held
    return counts

"""Whole-prompt export lines: the ``rankwise`` import format (rankings) and HelpSteer3-Preference.

One line per prompt with every judgement it keeps, so ``import(export(x))`` gives back ``x``;
the per-pair rows for TRL live in :mod:`exports.lines`, which also selects what a line keeps.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from exports.lines import JudgementRow, PromptBundle, Selection
from exports.sources import provenance

# --- rankings (the rankwise import format) ------------------------------------------------------


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _judging(a: JudgementRow) -> dict[str, Any]:
    """Strength, tie kind, gaps, dimensions and rationale, where set: a ranking project's lines
    stay as they were before these existed."""
    values = {"strength": a.strength, "tie_kind": a.tie_kind, "gaps": a.gaps,
              "dimensions": a.dimensions, "rationale": a.rationale}  # fmt: skip
    return {k: v for k, v in values.items() if v not in (None, "", [], {})}


def rankings_line(bundle: PromptBundle, selection: Selection) -> dict[str, Any]:
    """One ``rankwise`` import line: import(export(x)) gives back x; ``consensus`` and ``split``
    are extra keys the importer ignores."""
    line: dict[str, Any] = {"id": bundle.external_id}
    if bundle.messages is not None:
        line["messages"] = bundle.messages
    else:
        line["prompt"] = bundle.text
    line["completions"] = [
        {"id": c.external_id, "text": c.text, "model": c.model_name, "metadata": c.metadata}
        for c in bundle.completions
    ]
    line["metadata"] = bundle.metadata
    if bundle.gold_ranking is not None:
        line["gold_ranking"] = bundle.gold_ranking
    line["annotations"] = [
        {
            "annotator": a.annotator,
            "ranking": a.ranking,
            "ratings": a.ratings,
            "flags": a.flags,
            "comment": a.comment,
            "time_ms": a.time_ms,
            "skipped": a.skipped,
            "skip_reason": a.skip_reason,
            "shown_order": a.shown_order,
            "created_at": _stamp(a.created_at),
            **_judging(a),
            **provenance(a),
        }
        for a in selection.judgements
    ]
    if selection.consensus is not None:
        line["consensus"] = selection.consensus.as_json()
    line["split"] = selection.split
    return line


# --- HelpSteer3-Preference (pairwise-strength projects) -----------------------------------------


def _helpsteer_score(a: JudgementRow, first: str) -> int:
    """-3..+3 as HelpSteer3 writes it: negative when response1 (the first completion) won."""
    if len(a.ranking) == 1:
        return 0
    magnitude = a.strength or 1
    return -magnitude if a.ranking[0] == [first] else magnitude


def helpsteer3_line(bundle: PromptBundle, selection: Selection) -> dict[str, Any] | None:
    """One HelpSteer3 line, or None for a prompt that is not a pair or has no judgement.

    Beyond HelpSteer3's keys it writes ``id``, each preference's ``annotator`` and, for ties,
    ``tie_kind``, which the helpsteer3 importer reads back. ``overall_preference`` is the
    imported one when there was one, else the judges' mean rounded half away from zero.
    """
    judged = [a for a in selection.judgements if not a.skipped]
    if len(bundle.completions) != 2 or not judged:
        return None
    first, second = bundle.completions
    preferences = []
    for a in judged:
        item = {"annotator": a.annotator, "score": _helpsteer_score(a, first.external_id),
                "reasoning": a.rationale}  # fmt: skip
        if a.tie_kind:
            item["tie_kind"] = a.tie_kind
        preferences.append(item)
    overall = bundle.metadata.get("overall_preference")
    if not isinstance(overall, int):
        mean = sum(p["score"] for p in preferences) / len(preferences)
        overall = int(math.copysign(math.floor(abs(mean) + 0.5), mean))
    line: dict[str, Any] = {"id": bundle.external_id}
    line.update({k: bundle.metadata[k] for k in ("domain", "language") if k in bundle.metadata})
    line["context"] = bundle.messages if bundle.messages is not None else bundle.text
    line.update(response1=first.text, response2=second.text, overall_preference=overall)
    line["individual_preference"] = preferences
    line["split"] = selection.split
    return line


def full_line(fmt: str, bundle: PromptBundle, selection: Selection) -> dict[str, Any] | None:
    if fmt == "helpsteer3":
        return helpsteer3_line(bundle, selection)
    return rankings_line(bundle, selection)


def line_annotators(line: dict[str, Any]) -> list[str]:
    items = line.get("annotations", line.get("individual_preference", []))
    return [item["annotator"] for item in items]

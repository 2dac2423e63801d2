"""HelpSteer3-Preference lines (NVIDIA, 2025), read from a file.

``{context, response1, response2, overall_preference, individual_preference: [{score,
reasoning}]}``: a score is -3..+3, negative when response1 is better, 0 for "about the same".
Each individual preference becomes one annotator's pairwise judgement (strength = |score|,
rationale = reasoning); the overall preference is kept in the prompt's metadata. Rankwise's own
HelpSteer3 export adds ``id``, an ``annotator`` and ``tie_kind`` per preference, which this
reader takes back, so the export round-trips. The project must be pairwise-strength with a scale
of at least |score| levels (annotate.judgements checks it, naming the line and field).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from annotate.imports.records import AnnotationRecord, CompletionRecord, LineError, PromptRecord

ROLES = ("system", "user", "assistant")
DEFAULT_ANNOTATOR = "helpsteer3"
PREFERENCE_KEYS = {"score", "reasoning", "annotator", "tie_kind", "feedback1", "feedback2"}


def score_judgement(score: int, tie_kind: str = "") -> dict[str, Any]:
    """A HelpSteer3 score as a Rankwise judgement of completions A (response1), B (response2)."""
    if score == 0:
        return {"ranking": [["A", "B"]], "strength": 0, "tie_kind": tie_kind}
    ranking = [["A"], ["B"]] if score < 0 else [["B"], ["A"]]
    return {"ranking": ranking, "strength": abs(score)}


def judgement_score(ranking: list[list[str]], strength: int | None, first: str) -> int:
    """The inverse: negative when ``first`` (response1) won."""
    if len(ranking) == 1:
        return 0
    magnitude = strength or 1
    return -magnitude if ranking[0] == [first] else magnitude


def _score(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LineError(field, f"must be an integer (-3..+3), not {value!r}")
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise LineError(field, "must be a string")
    return value


def _context(value: Any) -> tuple[str, list[dict[str, str]] | None]:
    if isinstance(value, str):
        if not value.strip():
            raise LineError("context", "must not be empty")
        return value, None
    if not isinstance(value, list) or not value:
        raise LineError("context", "must be a string or a non-empty list of {role, content}")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES:
            raise LineError(f"context[{i}].role", f"must be one of {', '.join(ROLES)}")
        turns.append({"role": turn["role"], "content": _text(turn.get("content"), f"context[{i}]")})
    return "", turns


def _annotator(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 150:
        raise LineError(field, "must be a username (1-150 characters)")
    return value.strip()


def _preferences(obj: dict, base: str) -> list[AnnotationRecord]:
    raw = obj.get("individual_preference")
    if raw is None:
        if "overall_preference" not in obj:
            raise LineError("overall_preference", "is required without individual_preference")
        return [AnnotationRecord(base, score_judgement(_score(obj["overall_preference"],
                                                                "overall_preference")))]  # fmt: skip
    if not isinstance(raw, list) or not raw:
        raise LineError("individual_preference", "must be a non-empty list of {score, reasoning}")
    records, seen = [], set()
    for i, item in enumerate(raw):
        at = f"individual_preference[{i}]"
        if not isinstance(item, dict):
            raise LineError(at, "must be an object {score, reasoning}")
        unknown = sorted(set(item) - PREFERENCE_KEYS)
        if unknown:
            raise LineError(f"{at}.{unknown[0]}", "is not a key of a preference")
        name = _annotator(item.get("annotator", f"{base}-{i + 1}"), f"{at}.annotator")
        if name in seen:
            raise LineError(f"{at}.annotator", f"{name!r} judges this pair twice")
        seen.add(name)
        tie_kind = item.get("tie_kind") or ""
        judgement = score_judgement(_score(item.get("score"), f"{at}.score"), tie_kind)
        judgement["rationale"] = _text(item.get("reasoning", ""), f"{at}.reasoning")
        records.append(AnnotationRecord(name, judgement))
    return records


def parse_helpsteer3(obj: Any, *, annotator: str | None = None) -> Iterable[PromptRecord]:
    if not isinstance(obj, dict):
        raise LineError("line", "must be a JSON object")
    text, messages = _context(obj.get("context"))
    first, second = (
        _text(obj.get("response1"), "response1"),
        _text(obj.get("response2"), "response2"),
    )
    base = _annotator(annotator or DEFAULT_ANNOTATOR, "annotator")
    annotations = _preferences(obj, base)
    metadata = {k: obj[k] for k in ("domain", "language") if isinstance(obj.get(k), str)}
    if "overall_preference" in obj:
        metadata["overall_preference"] = _score(obj["overall_preference"], "overall_preference")
    external_id = obj.get("id")
    if external_id is None:
        # Stable across re-imports of the same file (the lines carry no id).
        digest = hashlib.sha1(json.dumps([obj.get("context"), first, second]).encode(),
                              usedforsecurity=False)  # fmt: skip
        external_id = f"hs3-{digest.hexdigest()[:16]}"
    if isinstance(external_id, bool) or not isinstance(external_id, (str, int)):
        raise LineError("id", "must be a string")
    yield PromptRecord(
        external_id=str(external_id)[:200],
        text=text,
        messages=messages,
        completions=[CompletionRecord("A", first), CompletionRecord("B", second)],
        metadata=metadata,
        annotations=annotations,
    )

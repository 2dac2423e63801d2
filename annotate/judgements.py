"""Validation of one judgement (ranking, ratings, flags) against a prompt and its project.

Import, the ranking page and the API all submit through here, so the rules live in one place.
Errors carry the field name, so callers can report ``ranking: ...`` or ``line 17: ranking: ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from annotate.constants import (
    JUDGING_PAIRWISE,
    JUDGING_RANKING,
    MAX_COMMENT_LENGTH,
    MAX_RATIONALE_LENGTH,
    MAX_SKIP_REASON_LENGTH,
    MAX_TIME_MS,
    RATIONALE_OFF,
    RATIONALE_REQUIRED,
    TIE_KINDS,
)
from core.errors import ServiceError

# What PostgreSQL cannot store in a text column: NUL, and UTF-16 halves without their pair.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


# The Annotation columns a judgement fills, in the order import writes them.
JUDGEMENT_FIELDS = (
    "ranking", "ratings", "flags", "comment", "skipped", "skip_reason", "time_ms", "shown_order",
    "strength", "tie_kind", "gaps", "dimensions", "rationale",
)  # fmt: skip


@dataclass(frozen=True)
class JudgementRules:
    ties_allowed: bool = True
    require_all_placed: bool = True
    rating_min: int | None = 1
    rating_max: int | None = 7
    flag_keys: tuple[str, ...] = ()
    mode: str = JUDGING_RANKING
    strength_levels: int = 0  # how many; a strength is 1..strength_levels
    gap_levels: int = 0  # 0: this project marks no gaps
    dimension_keys: tuple[str, ...] = ()
    rationale: str = RATIONALE_OFF

    @classmethod
    def for_project(cls, project) -> JudgementRules:
        scale = project.rating_scale or {}
        return cls(
            ties_allowed=project.ties_allowed,
            require_all_placed=project.require_all_placed,
            rating_min=scale.get("min"),
            rating_max=scale.get("max"),
            flag_keys=tuple(project.flag_keys),
            mode=project.judging_mode,
            strength_levels=len(project.strength_levels or []),
            gap_levels=len(project.gap_levels or []),
            dimension_keys=tuple(d["key"] for d in project.dimensions or []),
            rationale=project.rationale,
        )


class JudgementError(ServiceError, ValueError):
    code = "invalid_judgement"

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


def clean_ranking(
    ranking: Any, completion_ids: list[str], rules: JudgementRules
) -> list[list[str]]:
    if not isinstance(ranking, list) or not ranking:
        raise JudgementError("ranking", "must be a non-empty list of tie groups, best first")
    known = set(completion_ids)
    seen: set[str] = set()
    cleaned: list[list[str]] = []
    for group in ranking:
        # A bare id is accepted as a group of one: ["A", "B"] reads A > B.
        members = group if isinstance(group, list) else [group]
        if not members:
            raise JudgementError("ranking", "empty tie group")
        out = []
        for cid in members:
            if not isinstance(cid, (str, int)) or isinstance(cid, bool):
                raise JudgementError("ranking", f"completion id {cid!r} is not a string")
            cid = str(cid)
            if cid not in known:
                raise JudgementError("ranking", f"unknown completion {cid!r}")
            if cid in seen:
                raise JudgementError("ranking", f"completion {cid!r} placed twice")
            seen.add(cid)
            out.append(cid)
        if len(out) > 1 and not rules.ties_allowed:
            raise JudgementError("ranking", "ties are not allowed in this project")
        cleaned.append(out)
    missing = [cid for cid in completion_ids if cid not in seen]
    if missing and rules.require_all_placed:
        raise JudgementError(
            "ranking", f"not every output is placed (missing {', '.join(missing)})"
        )
    if len(seen) < 2:
        raise JudgementError("ranking", "rank at least two outputs")
    return cleaned


def clean_ratings(ratings: Any, completion_ids: list[str], rules: JudgementRules) -> dict[str, int]:
    if ratings in (None, {}):
        return {}
    if not isinstance(ratings, dict):
        raise JudgementError("ratings", "must be an object {completion id: rating}")
    if rules.rating_min is None or rules.rating_max is None:
        raise JudgementError("ratings", "this project has no rating scale")
    cleaned = {}
    for cid, value in ratings.items():
        if cid not in completion_ids:
            raise JudgementError("ratings", f"unknown completion {cid!r}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise JudgementError("ratings", f"rating of {cid!r} must be an integer")
        if not rules.rating_min <= value <= rules.rating_max:
            raise JudgementError(
                "ratings",
                f"rating of {cid!r} is {value}, outside {rules.rating_min}..{rules.rating_max}",
            )
        cleaned[cid] = value
    return cleaned


def clean_flags(
    flags: Any, completion_ids: list[str], rules: JudgementRules
) -> dict[str, list[str]]:
    if flags in (None, {}):
        return {}
    if not isinstance(flags, dict):
        raise JudgementError("flags", "must be an object {completion id: [flag, ...]}")
    cleaned = {}
    for cid, keys in flags.items():
        if cid not in completion_ids:
            raise JudgementError("flags", f"unknown completion {cid!r}")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise JudgementError("flags", f"flags of {cid!r} must be a list of strings")
        unknown = [k for k in keys if k not in rules.flag_keys]
        if unknown:
            raise JudgementError(
                "flags",
                f"unknown flag {unknown[0]!r} (this project has: {', '.join(rules.flag_keys)})",
            )
        if keys:
            cleaned[cid] = sorted(set(keys), key=rules.flag_keys.index)
    return cleaned


def clean_shown_order(shown_order: Any, completion_ids: list[str]) -> list[str]:
    if shown_order in (None, []):
        return []
    if not isinstance(shown_order, list) or sorted(map(str, shown_order)) != sorted(completion_ids):
        raise JudgementError("shown_order", "must list every completion id exactly once")
    return [str(cid) for cid in shown_order]


def clean_text(value: Any, field: str, max_length: int) -> str:
    """Free text of a judgement: a string of at most ``max_length`` characters that a
    database can store (no NUL, no lone surrogate)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise JudgementError(field, "must be a string")
    if len(value) > max_length:
        raise JudgementError(field, f"is {len(value)} characters long; at most {max_length}")
    bad = _UNSTORABLE.search(value)
    if bad:
        what = "a NUL character" if bad.group() == "\x00" else "an unpaired surrogate"
        raise JudgementError(field, f"contains {what} (position {bad.start()})")
    return value


def clean_time_ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JudgementError("time_ms", "must be a non-negative integer (milliseconds)")
    if value > MAX_TIME_MS:
        raise JudgementError("time_ms", f"must be at most {MAX_TIME_MS} (milliseconds)")
    return value


def _level(value: Any, field: str, top: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise JudgementError(field, f"must be {what} between 1 and {top}, not {value!r}")
    return value


def _clean_pairwise(data: dict, ranking: list, ids: list[str], rules, at: str) -> dict:
    if len(ids) != 2:
        raise JudgementError(f"{at}ranking", "a pairwise project judges exactly two outputs")
    strength, tie_kind = data.get("strength"), data.get("tie_kind") or ""
    if len(ranking) == 1:  # the tie group [[A, B]]
        if strength not in (None, 0):
            raise JudgementError(f"{at}strength", "a tie has no strength (0 or leave it out)")
        if tie_kind not in ("", *TIE_KINDS):
            raise JudgementError(f"{at}tie_kind", f"must be one of {', '.join(TIE_KINDS)}")
        return {"ranking": ranking, "strength": 0, "tie_kind": tie_kind, "gaps": []}
    if tie_kind:
        raise JudgementError(f"{at}tie_kind", "only a tie has a tie kind")
    if strength is None:
        raise JudgementError(f"{at}strength", "say how much better (a level of the scale)")
    strength = _level(strength, f"{at}strength", rules.strength_levels, "a level")
    return {"ranking": ranking, "strength": strength, "tie_kind": "", "gaps": []}


def _clean_gaps(value: Any, ranking: list, rules, at: str) -> list[int | None]:
    if value in (None, []):
        return []
    if not rules.gap_levels:
        raise JudgementError(f"{at}gaps", "this project marks no gaps between ranks")
    if not isinstance(value, list) or len(value) != len(ranking) - 1:
        raise JudgementError(
            f"{at}gaps", f"must list one gap per pair of adjacent rank groups ({len(ranking) - 1})"
        )
    return [None if g is None else _level(g, f"{at}gaps", rules.gap_levels, "a gap") for g in value]


def clean_choice(data: Any, ids: list[str], rules: JudgementRules, at: str = "") -> dict:
    """One ranking or pairwise choice: the overall one, or a dimension's (``at`` prefixes the
    field names, e.g. ``dimensions.harmlessness.``)."""
    if not isinstance(data, dict):
        raise JudgementError(at.rstrip(".") or "data", "must be an object")
    try:
        ranking = clean_ranking(data.get("ranking"), ids, rules)
    except JudgementError as exc:
        raise JudgementError(f"{at}{exc.field}", exc.message) from exc
    if rules.mode == JUDGING_PAIRWISE:
        if data.get("gaps"):
            raise JudgementError(f"{at}gaps", "a pairwise project has no gaps")
        return _clean_pairwise(data, ranking, ids, rules, at)
    for name in ("strength", "tie_kind"):
        if data.get(name) not in (None, ""):
            raise JudgementError(f"{at}{name}", "only pairwise-strength projects have it")
    gaps = _clean_gaps(data.get("gaps"), ranking, rules, at)
    return {"ranking": ranking, "strength": None, "tie_kind": "", "gaps": gaps}


def clean_dimensions(value: Any, ids: list[str], rules: JudgementRules) -> dict[str, dict]:
    if not rules.dimension_keys:
        if value not in (None, {}):
            raise JudgementError("dimensions", "this project has no dimensions")
        return {}
    if not isinstance(value, dict):
        raise JudgementError("dimensions", "must be an object {dimension key: choice}")
    unknown = sorted(set(value) - set(rules.dimension_keys))
    if unknown:
        raise JudgementError(f"dimensions.{unknown[0]}", "is not a dimension of this project")
    missing = [key for key in rules.dimension_keys if key not in value]
    if missing:
        raise JudgementError(f"dimensions.{missing[0]}", "judge every dimension")
    return {k: clean_choice(value[k], ids, rules, f"dimensions.{k}.") for k in rules.dimension_keys}


def clean_rationale(value: Any, rules: JudgementRules) -> str:
    text = clean_text(value, "rationale", MAX_RATIONALE_LENGTH).strip()
    if text and rules.rationale == RATIONALE_OFF:
        raise JudgementError("rationale", "this project has no rationale box")
    if not text and rules.rationale == RATIONALE_REQUIRED:
        raise JudgementError("rationale", "say briefly why (this project requires a rationale)")
    return text


SKIPPED_EXTRAS = {"strength": None, "tie_kind": "", "gaps": [], "dimensions": {}, "rationale": ""}


def clean_judgement(data: dict, completion_ids: list[str], rules: JudgementRules) -> dict:
    """Return the cleaned fields of an Annotation, or raise JudgementError naming the field."""
    skipped = data.get("skipped", False)
    if not isinstance(skipped, bool):
        raise JudgementError("skipped", "must be true or false")
    time_ms = clean_time_ms(data.get("time_ms"))
    comment = clean_text(data.get("comment"), "comment", MAX_COMMENT_LENGTH)
    shown_order = clean_shown_order(data.get("shown_order"), completion_ids)
    if skipped:
        reason = clean_text(data.get("skip_reason"), "skip_reason", MAX_SKIP_REASON_LENGTH)
        if not reason.strip():
            raise JudgementError("skip_reason", "say why you skip")
        return {
            "skipped": True,
            "skip_reason": reason.strip(),
            "ranking": [],
            "ratings": {},
            "flags": {},
            "comment": comment,
            "time_ms": time_ms,
            "shown_order": shown_order,
            **SKIPPED_EXTRAS,
        }
    return {
        "skipped": False,
        "skip_reason": "",
        **clean_choice(data, completion_ids, rules),
        "ratings": clean_ratings(data.get("ratings"), completion_ids, rules),
        "flags": clean_flags(data.get("flags"), completion_ids, rules),
        "comment": comment,
        "time_ms": time_ms,
        "shown_order": shown_order,
        "dimensions": clean_dimensions(data.get("dimensions"), completion_ids, rules),
        "rationale": clean_rationale(data.get("rationale"), rules),
    }

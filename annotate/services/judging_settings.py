"""Checks of a project's judging settings: mode, strength scale, rank gaps, dimensions, rationale.

The judgement validator (annotate.judgements) relies on their shape, so they are checked here
before a project is saved, by the API, the admin and the demo alike; errors name the setting.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from annotate.constants import (
    GAP_PRESETS,
    JUDGING_PAIRWISE,
    MAX_DIMENSIONS,
    MAX_GAP_LEVELS,
    MAX_STRENGTH_LEVELS,
    STRENGTH_PRESETS,
)

DIMENSION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
LABEL_LENGTH = 100
INSTRUCTIONS_LENGTH = 5_000
JUDGING_SETTINGS = ("judging_mode", "strength_levels", "gap_levels", "dimensions", "rationale")


def _labels(value, field: str, presets: dict[str, list[str]], most: int) -> list[str]:
    """A list of labels, weakest first, or the name of a preset."""
    if value in (None, []):
        return []
    if isinstance(value, str):
        if value not in presets:
            raise ValidationError({field: f"unknown preset {value!r}; use {', '.join(presets)}"})
        return list(presets[value])
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        raise ValidationError({field: f"must be a list of 1 to {most} labels, weakest first"})
    for i, label in enumerate(value):
        if not isinstance(label, str) or not label.strip() or len(label) > LABEL_LENGTH:
            raise ValidationError(
                {field: f"item {i} must be a non-empty string of at most {LABEL_LENGTH}"}
            )
    if len({label.strip() for label in value}) != len(value):
        raise ValidationError({field: "labels must differ"})
    return [label.strip() for label in value]


def strength_levels_check(value) -> list[str]:
    return _labels(value, "strength_levels", STRENGTH_PRESETS, MAX_STRENGTH_LEVELS)


def gap_levels_check(value) -> list[str]:
    return _labels(value, "gap_levels", GAP_PRESETS, MAX_GAP_LEVELS)


def dimensions_check(value) -> list[dict]:
    if value in (None, []):
        return []
    if not isinstance(value, list) or len(value) > MAX_DIMENSIONS:
        raise ValidationError(
            {"dimensions": f'must be a list of at most {MAX_DIMENSIONS} {{"key", "name"}}'}
        )
    cleaned, seen = [], set()
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - {"key", "name", "instructions"}:
            raise ValidationError(
                {"dimensions": f'item {i} must be an object {{"key", "name", "instructions"}}'}
            )
        key = item.get("key")
        if not isinstance(key, str) or not DIMENSION_KEY.match(key) or key == "overall":
            raise ValidationError(
                {"dimensions": f"item {i}: key must be a-z, 0-9, _ (1-50, not 'overall')"}
            )
        if key in seen:
            raise ValidationError({"dimensions": f"item {i}: key {key!r} is used twice"})
        seen.add(key)
        name = item.get("name") or key
        instructions = item.get("instructions") or ""
        if not isinstance(name, str) or len(name) > LABEL_LENGTH:
            raise ValidationError({"dimensions": f"item {i}: name must be a short string"})
        if not isinstance(instructions, str) or len(instructions) > INSTRUCTIONS_LENGTH:
            raise ValidationError(
                {"dimensions": f"item {i}: instructions must be a string (max 5000)"}
            )
        cleaned.append({"key": key, "name": name, "instructions": instructions})
    return cleaned


def judging_changes_check(*, changes: dict) -> dict:
    """Normalise the JSON judging settings found in ``changes`` (presets expanded)."""
    checks = {
        "strength_levels": strength_levels_check,
        "gap_levels": gap_levels_check,
        "dimensions": dimensions_check,
    }
    for name, check in checks.items():
        if name in changes:
            changes[name] = check(changes[name])
    return changes


def judging_fit_check(*, judging_mode: str, strength_levels: list, gap_levels: list) -> None:
    """The settings together: a pairwise project needs a scale and has no rank gaps."""
    if judging_mode == JUDGING_PAIRWISE:
        if not strength_levels:
            raise ValidationError(
                {"strength_levels": "a pairwise-strength project needs a scale (e.g. 'llama2')"}
            )
        if gap_levels:
            raise ValidationError({"gap_levels": "gaps are for ranking mode; pairwise has none"})
    elif strength_levels:
        raise ValidationError({"strength_levels": "a strength scale is for pairwise_strength"})

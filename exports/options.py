"""Export settings: what goes into a snapshot, checked once and stored with it.

``OPTION_FIELDS`` lists the settings once: the API serializer, the admin form and ``export_data``
build their fields from it. ``clean_options`` is the single gate for all three; it names the
offending field so each caller can report it its own way. The cleaned settings are stored on the
snapshot as JSON (``ExportOptions.as_json``), so a snapshot can be rebuilt with exactly the same
choices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import ServiceError

MODES = ("all", "consensus")
TIE_POLICIES = ("drop", "keep")
# Where a pair's margin comes from (docs/judging.md): the consensus' 2p - 1, or what the
# annotators judged (pairwise strength, rank gaps); projects that judge either default to it.
MARGINS = ("consensus", "judged")
SPLITS = ("train", "validation", "test")
DEFAULT_SPLIT = {"train": 0.9, "validation": 0.05, "test": 0.05}
MAX_SEED = 2**63 - 1


class ExportOptionsError(ServiceError, ValueError):
    code = "invalid_export"

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


@dataclass(frozen=True)
class OptionField:
    """One export setting as every front end offers it (the API serializer, the admin form and
    ``export_data`` build their fields from ``OPTION_FIELDS``; ``clean_options`` checks them)."""

    name: str
    kind: str  # choice | optional_choice | fraction | flags | bool | datetime | seed | split | usernames
    help: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None


OPTION_FIELDS = (
    OptionField("mode", "choice", "all: every annotator's pairs; consensus: one consensus ranking "
                "per prompt.", MODES, "all"),
    OptionField("min_agreement", "fraction",
                "Leave out prompts whose agreement is below this (or unknown)."),
    OptionField("exclude_flags", "flags",
                "Leave out prompts where any output carries one of these flags."),
    OptionField("only_reviewed", "bool", default=False),
    OptionField("annotated_from", "datetime", "Inclusive."),
    OptionField("annotated_to", "datetime", "Exclusive."),
    OptionField("ties", "choice", "drop tied pairs, or keep them with tie=true (pairwise and hf).",
                TIE_POLICIES, "drop"),
    OptionField("margin", "optional_choice", "consensus: 2p - 1; judged: the annotators' strength "
                "or rank gaps (docs/judging.md). Default: judged for projects that judge either.",
                MARGINS),
    OptionField("seed", "seed", default=0),
    OptionField("split", "split", "train, validation and test fractions", SPLITS),
    OptionField("holdout_annotators", "usernames",
                "Prompts these annotators judged all go to the test split."),
    OptionField("include_simulated", "bool",
                "Include the demo's simulated annotators' judgements.", default=False),
    OptionField("dimension_lines", "bool", "pairwise and hf: also one row per dimension "
                "judgement, tagged dimension (docs/judging.md); only for projects with "
                "dimensions.", default=False),
    OptionField("include_machine", "bool", "Include machine annotators' judgements (default: "
                "whether the project counts them in consensus)."),
)  # fmt: skip
KNOWN_KEYS = {f.name for f in OPTION_FIELDS}


@dataclass(frozen=True)
class ExportOptions:
    mode: str = "all"
    min_agreement: float | None = None
    exclude_flags: tuple[str, ...] = ()
    only_reviewed: bool = False
    annotated_from: datetime | None = None  # inclusive
    annotated_to: datetime | None = None  # exclusive
    ties: str = "drop"
    seed: int = 0
    split: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SPLIT))
    holdout_annotators: tuple[str, ...] = ()
    include_simulated: bool = False  # the demo's simulated annotators (agreement.simulation)
    margin: str = "consensus"
    # Pairwise/hf: besides the overall rows, one row per dimension judgement, tagged
    # ``dimension`` (docs/judging.md); the rankings export carries dimensions anyway.
    dimension_lines: bool = False
    include_machine: bool = False  # machine annotators' judgements (loop.services.judges)

    def as_json(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(UTC).isoformat()

        return {
            "mode": self.mode,
            "min_agreement": self.min_agreement,
            "exclude_flags": list(self.exclude_flags),
            "only_reviewed": self.only_reviewed,
            "annotated_from": stamp(self.annotated_from),
            "annotated_to": stamp(self.annotated_to),
            "ties": self.ties,
            "seed": self.seed,
            "split": dict(self.split),
            "holdout_annotators": list(self.holdout_annotators),
            "include_simulated": self.include_simulated,
            "margin": self.margin,
            "dimension_lines": self.dimension_lines,
            "include_machine": self.include_machine,
        }

    def in_date_range(self, created_at: datetime) -> bool:
        if self.annotated_from is not None and created_at < self.annotated_from:
            return False
        return self.annotated_to is None or created_at < self.annotated_to


def _bool(data: Mapping, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ExportOptionsError(key, "must be true or false")


def _choice(data: Mapping, key: str, choices: tuple[str, ...], default: str) -> str:
    value = data.get(key) or default
    if value not in choices:
        raise ExportOptionsError(key, f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def _string_list(data: Mapping, key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ExportOptionsError(key, "must be a list of strings")
    return tuple(dict.fromkeys(value))


def _datetime(data: Mapping, key: str) -> datetime | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time.min)
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value)
            if parsed is None and (day := parse_date(value)) is not None:
                parsed = datetime.combine(day, time.min)
        except ValueError:
            parsed = None
        if parsed is None:
            raise ExportOptionsError(key, f"{value!r} is not an ISO 8601 date or date-time")
    else:
        raise ExportOptionsError(key, "must be an ISO 8601 date or date-time string")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise ExportOptionsError(key, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ExportOptionsError(key, "must be a number") from None
    if not math.isfinite(number):
        raise ExportOptionsError(key, "must be a finite number")
    return number


def _split(data: Mapping) -> dict[str, float]:
    value = data.get("split")
    if value in (None, {}):
        return dict(DEFAULT_SPLIT)
    if not isinstance(value, Mapping):
        raise ExportOptionsError("split", 'must be an object like {"train": 0.9, "test": 0.1}')
    unknown = set(value) - set(SPLITS)
    if unknown:
        raise ExportOptionsError("split", f"unknown split {sorted(unknown)[0]!r}")
    fractions = {name: _number(value.get(name, 0), f"split.{name}") for name in SPLITS}
    if any(f < 0 for f in fractions.values()):
        raise ExportOptionsError("split", "fractions must not be negative")
    if not math.isclose(sum(fractions.values()), 1.0, abs_tol=1e-6):
        raise ExportOptionsError("split", "fractions must add up to 1")
    return fractions


def clean_options(project, data: Mapping[str, Any] | None) -> ExportOptions:
    """Check raw settings (JSON from the API, argparse values, a stored snapshot's settings)."""
    data = dict(data or {})
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        name = sorted(unknown)[0]
        raise ExportOptionsError(name, f"unknown setting (known: {', '.join(sorted(KNOWN_KEYS))})")

    min_agreement = data.get("min_agreement")
    if min_agreement not in (None, ""):
        min_agreement = _number(min_agreement, "min_agreement")
        if not 0.0 <= min_agreement <= 1.0:
            raise ExportOptionsError("min_agreement", "must be between 0 and 1")
    else:
        min_agreement = None

    flags = _string_list(data, "exclude_flags")
    known_flags = set(project.flag_keys)
    for flag in flags:
        if flag not in known_flags:
            raise ExportOptionsError(
                "exclude_flags", f"unknown flag {flag!r} (this project has: "
                f"{', '.join(project.flag_keys) or 'none'})",
            )  # fmt: skip

    annotated_from = _datetime(data, "annotated_from")
    annotated_to = _datetime(data, "annotated_to")
    if annotated_from and annotated_to and annotated_to <= annotated_from:
        raise ExportOptionsError("annotated_to", "must be after annotated_from")

    seed = data.get("seed", 0)
    if seed in (None, ""):
        seed = 0
    if isinstance(seed, str) and seed.lstrip("-").isdigit():
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ExportOptionsError("seed", "must be a non-negative integer")

    holdout = _string_list(data, "holdout_annotators")
    if holdout:
        found = set(
            get_user_model().objects.filter(username__in=holdout).values_list("username", flat=True)
        )
        missing = [name for name in holdout if name not in found]
        if missing:
            raise ExportOptionsError("holdout_annotators", f"unknown user {missing[0]!r}")

    dimension_lines = _bool(data, "dimension_lines", False)
    if dimension_lines and not getattr(project, "dimensions", None):
        raise ExportOptionsError("dimension_lines", "this project has no dimensions")

    return ExportOptions(
        mode=_choice(data, "mode", MODES, "all"),
        min_agreement=min_agreement,
        exclude_flags=flags,
        only_reviewed=_bool(data, "only_reviewed", False),
        annotated_from=annotated_from,
        annotated_to=annotated_to,
        ties=_choice(data, "ties", TIE_POLICIES, "drop"),
        seed=seed,
        split=_split(data),
        holdout_annotators=holdout,
        include_simulated=_bool(data, "include_simulated", False),
        margin=_choice(data, "margin", MARGINS, _default_margin(project)),
        dimension_lines=dimension_lines,
        # machine labels go in where the project counts them in consensus, or when asked
        include_machine=_bool(data, "include_machine", project.machine_in_consensus),
    )


def _default_margin(project) -> str:
    judged = getattr(project, "is_pairwise", False) or bool(getattr(project, "gap_levels", None))
    return "judged" if judged else "consensus"

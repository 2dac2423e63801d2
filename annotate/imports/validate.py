"""Checks of one parsed import record against the project: its judgements (through
annotate.judgements, the rules the page and API use), their times, and its gold ranking."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotate.constants import JUDGING_PAIRWISE
from annotate.imports.records import LineError, PromptRecord
from annotate.judgements import JudgementError, JudgementRules, clean_judgement, clean_ranking

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _parse_created_at(value, field: str, line: int):
    """Exports carry each judgement's time, so a round trip keeps it."""
    if value is None:
        return None
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        moment = None
    if moment is None:
        raise LineError(field, "must be an ISO 8601 date-time", line)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    # Far dates overflow when shifted to UTC (year 1 at +05:00 is year 0) and mean a bug.
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise LineError(field, f"must be between {EARLIEST:%Y} and {LATEST:%Y}", line)
    return moment


def validate_record(record: PromptRecord, rules: JudgementRules) -> None:
    if rules.mode == JUDGING_PAIRWISE and len(record.completions) != 2:
        raise LineError("completions", "a pairwise project takes exactly two", record.line)
    for i, annotation in enumerate(record.annotations):
        created_at = _parse_created_at(
            annotation.data.get("created_at"), f"annotations[{i}].created_at", record.line
        )
        try:
            annotation.data = clean_judgement(annotation.data, record.completion_ids, rules)
        except JudgementError as exc:
            raise LineError(f"annotations[{i}].{exc.field}", exc.message, record.line) from exc
        annotation.data["created_at"] = created_at
    if record.gold_ranking is not None:
        try:
            record.gold_ranking = clean_ranking(record.gold_ranking, record.completion_ids, rules)
        except JudgementError as exc:
            raise LineError("gold_ranking", exc.message, record.line) from exc

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


class LineError(ValueError):
    """A problem with one input line; ``field`` names the JSON key at fault ("" for the line
    itself, e.g. one that is too long)."""

    def __init__(self, field: str, message: str, line: int | None = None):
        self.field = field
        self.message = message
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        what = f"{self.field}: " if self.field else ""
        return f"{where}{what}{self.message}"


@dataclass
class CompletionRecord:
    external_id: str
    text: str
    model_name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnnotationRecord:
    annotator: str
    data: dict[str, Any]  # ranking, ratings, flags, comment, time_ms, skipped, ...


@dataclass
class PromptRecord:
    external_id: str
    text: str
    messages: list[dict[str, str]] | None
    completions: list[CompletionRecord]
    metadata: dict[str, Any] = field(default_factory=dict)
    annotations: list[AnnotationRecord] = field(default_factory=list)
    gold_ranking: list[list[str]] | None = None
    line: int = 0

    @property
    def completion_ids(self) -> list[str]:
        return [c.external_id for c in self.completions]

    def digest(self) -> bytes:
        return content_digest(
            self.text, self.messages, [(c.external_id, c.text) for c in self.completions]
        )


def content_digest(text: str, messages, completions: list[tuple[str, str]]) -> bytes:
    """What must match for a re-import of the same prompt id to be a no-op."""
    key = repr((text, messages, completions)).encode()
    return hashlib.sha1(key, usedforsecurity=False).digest()

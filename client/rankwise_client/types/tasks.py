"""Ranking tasks as an annotator gets them, and the letters they see.

A task shows its completions in the annotator's own shuffled order (``shown_order``) under
letters: A is the first shown, B the second... The same letters are stored with the judgement
(``Judgement.letters``), so "B is wrong" in a comment means the same thing to everyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from rankwise_client.types.base import ApiObject
from rankwise_client.types.projects import Judgement

Ranking = list[list[str]]
_SEPARATORS = re.compile(r"\s*>\s*")


def ranking_from_letters(ranking: str | list, letters: dict[str, str]) -> Ranking:
    """Tie groups of completion ids from the letters an annotator saw.

    ``ranking``: ``"A > C = D > B"`` (``>`` between groups, ``=`` inside a tie), or lists of
    letters (``[["A"], ["C", "D"], ["B"]]``, ``["A", "C", "D", "B"]``). ``letters``: completion
    id -> letter (a task's or a judgement's ``letters``)."""
    ids = {letter.upper(): cid for cid, letter in letters.items()}
    if isinstance(ranking, str):
        groups = [[part.strip() for part in group.split("=")]
                  for group in _SEPARATORS.split(ranking.strip())]  # fmt: skip
    else:
        groups = [group if isinstance(group, list | tuple) else [group] for group in ranking]
    out: Ranking = []
    for group in groups:
        try:
            out.append([ids[str(letter).strip().upper()] for letter in group])
        except KeyError as exc:
            known = ", ".join(sorted(ids))
            raise ValueError(
                f"no output has the letter {exc.args[0]!r} (letters: {known})"
            ) from None
    return out


def ranking_in_letters(ranking: Ranking, letters: dict[str, str]) -> str:
    """``"A > C = D > B"``: a ranking of completion ids in an annotator's letters."""
    return " > ".join(" = ".join(letters.get(cid, cid) for cid in group) for group in ranking)


@dataclass(kw_only=True)
class TaskCompletion(ApiObject):
    id: str = ""
    label: str = ""  # the letter the annotator sees
    text: str = ""
    html: str = ""


@dataclass(kw_only=True)
class Task(ApiObject):
    """A prompt to rank: claimed (``tasks/next/``, a submit with ``next=True``) or a preview
    (``tasks/peek/``: ``claimed_at`` and ``expires_at`` are None). ``project`` is its
    project's slug (set by the client)."""

    prompt_id: int | None = None
    external_id: str = ""
    text: str = ""
    messages: list[dict] | None = None
    html: str = ""
    messages_html: list[str] | None = None
    completions: list[TaskCompletion] = field(default_factory=list)
    shown_order: list[str] = field(default_factory=list)
    claimed_at: datetime | None = None
    expires_at: datetime | None = None
    timeout_minutes: int | None = None
    project: str = ""
    _nested: ClassVar[dict[str, type]] = {"completions": TaskCompletion}

    @property
    def is_preview(self) -> bool:
        return self.claimed_at is None

    @property
    def letters(self) -> dict[str, str]:
        """Completion id -> the letter shown (A = first shown)."""
        return {c.id: c.label for c in self.completions}

    def completion(self, letter: str) -> TaskCompletion:
        """The completion shown under ``letter``."""
        for c in self.completions:
            if c.label == letter.upper():
                return c
        raise KeyError(letter)

    def ranking(self, ranking: str | list) -> Ranking:
        """Completion ids from letters: ``task.ranking("A > C = D > B")``."""
        return ranking_from_letters(ranking, self.letters)

    # --- the annotator's actions (see ``client.tasks``) ------------------------------------

    def submit(self, ranking: str | list, **kwargs: Any) -> Submitted:
        return self.client.tasks.submit(self, ranking, **kwargs)

    def skip(self, reason: str, **kwargs: Any) -> Submitted:
        return self.client.tasks.skip(self, reason, **kwargs)

    def extend(self) -> Task:
        """Reserve it for another claim timeout from now; updates ``expires_at`` in place."""
        return self._refresh_from(self.client.tasks.extend(self))


@dataclass(kw_only=True)
class Submitted(Judgement):
    """The stored judgement; with ``next=True``, ``next`` is the annotator's next task (claimed),
    None when nothing is left."""

    next: Task | None = None
    _nested: ClassVar[dict[str, type]] = {"next": Task}

"""Machine judges: from a prompt and its completions to a ranking and pair probabilities.

Two kinds, one output (:class:`Verdict`): a ranking in tie groups, best first, and for each
ordered pair it implies, the judge's P(better beats worse):

* a registered reward model: its ``(E, n)`` scores; the ranking follows the members' mean, and
  P(a > b) is the members' mean Bradley-Terry probability (``rlhf.uncertainty``);
* an OpenAI-compatible chat endpoint (``POST {url}/chat/completions``): every pair is put to the
  model with the prompt template, answer "A" or "B"; each pair is asked in both orders, so a
  model that always answers "A" is a coin flip, not a confident judge. P(a > b) comes from the
  answer's token log-probabilities where the server returns them, else from the two answers
  (1, 0.5 or 0). Completions are ranked by their summed pair probabilities (a Borda count).

No Django here beyond what the caller passes: the service (``loop.services.judges``) turns a
Verdict into an Annotation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations, pairwise

import httpx
import numpy as np

from rlhf.uncertainty import pair_probabilities

DEFAULT_TEMPLATE = (
    "Which reply answers the prompt better?\n\nPrompt:\n{prompt}\n\nReply A:\n{a}\n\n"
    "Reply B:\n{b}\n\nAnswer with one letter: A or B."
)
TEMPLATE_FIELDS = ("{prompt}", "{a}", "{b}")
TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class JudgeFailed(RuntimeError):
    """The endpoint did not answer in the expected shape (recorded, nothing stored)."""


@dataclass
class Verdict:
    ranking: list[list[str]]
    pair_probs: dict[str, float] = field(default_factory=dict)  # "A>B" -> P(A beats B)

    @property
    def confidence(self) -> float | None:
        """How sure the judge is of its whole ranking: its least sure adjacent pair."""
        flat = [cid for group in self.ranking for cid in group]
        probs = [self.pair_probs.get(f"{a}>{b}") for a, b in pairwise(flat)]
        probs = [p for p in probs if p is not None]
        return min(probs) if probs else None


def _ranking_from_strength(ids: list[str], strength: np.ndarray) -> list[list[str]]:
    groups: dict[float, list[str]] = {}
    for cid, value in zip(ids, strength, strict=True):
        groups.setdefault(round(float(value), 9), []).append(cid)
    return [groups[key] for key in sorted(groups, reverse=True)]


def verdict_from_scores(ids: list[str], scores) -> Verdict:
    """A reward model's verdict from its ``(E, n)`` score matrix."""
    scores = np.atleast_2d(np.asarray(scores, float))
    ranking = _ranking_from_strength(ids, scores.mean(axis=0))
    probs = {}
    for i, j in combinations(range(len(ids)), 2):
        p = float(pair_probabilities(scores[:, [i]], scores[:, [j]]).mean())
        probs[f"{ids[i]}>{ids[j]}"] = round(p, 6)
        probs[f"{ids[j]}>{ids[i]}"] = round(1.0 - p, 6)
    return Verdict(ranking, probs)


def _prompt_text(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)


def _answer_probability(choice: dict) -> float:
    """P(the answer is "A") from one chat choice: the first answer token's log-probabilities
    over "A" and "B" where the server gave them, else 1 or 0 from the text."""
    content = ((choice.get("message") or {}).get("content") or "").strip()
    tokens = ((choice.get("logprobs") or {}).get("content")) or []
    for token in tokens:
        letter = token.get("token", "").strip().upper()
        if letter not in ("A", "B"):
            continue
        mass = {"A": 0.0, "B": 0.0}
        for alt in token.get("top_logprobs") or [{"token": token["token"],
                                                  "logprob": token["logprob"]}]:  # fmt: skip
            name = alt.get("token", "").strip().upper()
            if name in mass:
                mass[name] += math.exp(alt["logprob"])
        total = mass["A"] + mass["B"]
        if total > 0:
            return mass["A"] / total
    head = content[:1].upper()
    if head in ("A", "B"):
        return 1.0 if head == "A" else 0.0
    raise JudgeFailed(f"the judge answered {content[:40]!r}, not A or B")


@dataclass
class ChatJudge:
    url: str
    model: str
    template: str = DEFAULT_TEMPLATE
    client: httpx.Client | None = None

    def _ask(self, prompt: str, a: str, b: str) -> float:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": self.template.format(prompt=prompt, a=a, b=b)}],
            "temperature": 0.0, "max_tokens": 2, "logprobs": True, "top_logprobs": 5,
        }  # fmt: skip
        client = self.client or httpx.Client(timeout=TIMEOUT)
        try:
            response = client.post(self.url.rstrip("/") + "/chat/completions", json=body)
            response.raise_for_status()
            choices = response.json().get("choices") or []
        except (httpx.HTTPError, ValueError) as exc:
            raise JudgeFailed(f"the judge endpoint failed: {exc}") from exc
        finally:
            if self.client is None:
                client.close()
        if not choices:
            raise JudgeFailed("the judge endpoint answered no choices")
        return _answer_probability(choices[0])

    def judge(self, prompt, ids: list[str], texts: list[str]) -> Verdict:
        text = _prompt_text(prompt)
        probs: dict[str, float] = {}
        wins = np.zeros(len(ids))
        for i, j in combinations(range(len(ids)), 2):
            # both orders, averaged: position bias cancels instead of deciding
            p = 0.5 * (
                self._ask(text, texts[i], texts[j]) + 1.0 - self._ask(text, texts[j], texts[i])
            )
            probs[f"{ids[i]}>{ids[j]}"], probs[f"{ids[j]}>{ids[i]}"] = round(p, 6), round(1 - p, 6)
            wins[i] += p
            wins[j] += 1 - p
        return Verdict(_ranking_from_strength(ids, wins), probs)

"""Several reward heads on one trunk: an ensemble (``ensemble_size``) and/or dimensions.

The trained model is one ``AutoModelForSequenceClassification`` whose score layer has
``len(dimensions) * members`` outputs instead of one. Output column ``d * members + e`` is
member ``e`` of dimension ``d``; dimension 0 is always ``overall``. Each column is its own
linear head (a row of the score layer), initialised independently, and during training each
member sees its own Poisson(1) bootstrap weights over the pairs, so the members disagree where
the data leaves room for it. The layout and one offset per column are recorded in the card
(``heads``), which is all a reader needs:

    logits = AutoModelForSequenceClassification.from_pretrained(DIR)(**inputs).logits
    scores = logits - torch.tensor(card["heads"]["offsets"])   # (n, columns)
    overall = scores[:, card["heads"]["columns"]["overall"]]   # (n, members)

With one member and no dimensions nothing of this applies: one output, as before.

Everything here is plain Python/numpy over score arrays; the scorer
(:class:`rlhf.scoring.RewardScorer`) gives the raw outputs and :mod:`rlhf.uncertainty` the pair
statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf.uncertainty import conservative_score, pair_bald, pair_probabilities, pair_spread

OVERALL = "overall"


@dataclass
class HeadLayout:
    """Which output column is which (dimension, member), and the offset of each column."""

    dimensions: list[str] = field(default_factory=lambda: [OVERALL])
    members: int = 1
    offsets: list[float] | None = None

    @classmethod
    def from_config(cls, config) -> HeadLayout:
        dims = [OVERALL, *[d for d in config.dimensions if d != OVERALL]]
        return cls(dims, config.ensemble_size)

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> HeadLayout | None:
        """The card's layout, or None for a one-output model (every card written before)."""
        heads = card.get("heads")
        if not heads:
            return None
        return cls(list(heads["dimensions"]), int(heads["members"]), list(heads["offsets"]))

    @property
    def n_outputs(self) -> int:
        return len(self.dimensions) * self.members

    @property
    def multi(self) -> bool:
        return self.n_outputs > 1

    def columns(self, dimension: str = OVERALL) -> list[int]:
        if dimension not in self.dimensions:
            raise ValueError(f"no head {dimension!r}; this model has {self.dimensions}")
        d = self.dimensions.index(dimension)
        return [d * self.members + e for e in range(self.members)]

    def to_card(self) -> dict[str, Any]:
        return {
            "dimensions": self.dimensions,
            "members": self.members,
            "n_outputs": self.n_outputs,
            "columns": {d: self.columns(d) for d in self.dimensions},
            "offsets": self.offsets,
            "how": (
                "AutoModelForSequenceClassification.from_pretrained(DIR) has n_outputs logits; "
                "subtract offsets column-wise; columns[d] are the members of head d. A "
                "dimension's reward is the mean of its members, their spread the disagreement."
            ),
        }

    def split(self, outputs: Sequence[Sequence[float]] | np.ndarray) -> dict[str, np.ndarray]:
        """Raw outputs ``(n, n_outputs)`` as ``{dimension: (members, n)}``, offsets removed."""
        out = np.asarray(outputs, float).reshape(-1, self.n_outputs)
        if self.offsets is not None:
            out = out - np.asarray(self.offsets, float)
        return {d: out[:, self.columns(d)].T for d in self.dimensions}


def completion_stats(matrix: np.ndarray) -> dict[str, list[float]]:
    """Mean and spread (standard deviation over members) of each completion's score."""
    m = np.atleast_2d(np.asarray(matrix, float))
    return {"mean": m.mean(axis=0).tolist(), "spread": m.std(axis=0).tolist()}


def pair_stats(matrix_a: np.ndarray, matrix_b: np.ndarray) -> dict[str, list[float]]:
    """Per pair (a_i, b_i): mean over members of P(a > b), its spread, and BALD (nats)."""
    p = pair_probabilities(np.atleast_2d(matrix_a), np.atleast_2d(matrix_b))
    return {
        "p_better": p.mean(axis=0).tolist(),
        "spread": pair_spread(p).tolist(),
        "bald": pair_bald(p).tolist(),
    }


def combine(heads: Mapping[str, np.ndarray], weights: Mapping[str, float] | None,
            conservative_k: float = 0.0) -> np.ndarray:  # fmt: skip
    """One score per completion: each head's ``mean - k * spread`` (:func:`conservative_score`),
    then the ``weights`` sum over heads (no weights: the overall head alone)."""
    weights = dict(weights) if weights else {OVERALL: 1.0}
    unknown = sorted(set(weights) - set(heads))
    if unknown:
        raise ValueError(f"reward_weights names {unknown}; the reward model has {sorted(heads)}")
    n = next(iter(heads.values())).shape[-1]
    total = np.zeros(n)
    for name, w in weights.items():
        total += w * conservative_score(heads[name], conservative_k)
    return total


def rollout_reward_fn(scorer, weights: Mapping[str, float] | None = None,
                      conservative_k: float = 0.0) -> Callable:  # fmt: skip
    """``reward_fn(prompts, responses)`` for PPO from a :class:`~rlhf.scoring.RewardScorer`.

    A one-output model with neither option is the scorer's own ``score``, unchanged; otherwise
    every head is scored once and :func:`combine`\\ d.
    """
    if scorer.heads is None and not weights and conservative_k == 0:
        return scorer.score
    names = scorer.heads.dimensions if scorer.heads is not None else [OVERALL]
    unknown = sorted(set(weights or {}) - set(names))
    if unknown:  # before the first rollout, not after it
        raise ValueError(f"reward_weights names {unknown}; the reward model has {names}")

    def reward_fn(prompts, responses):
        return combine(scorer.score_heads(prompts, responses), weights, conservative_k).tolist()

    return reward_fn

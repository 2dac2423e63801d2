"""A machine annotator against the people: the same pairwise statistics the report gives
annotator pairs, with percentile-bootstrap intervals over prompts, and its calibration.

Input per prompt: the machine's ranking (tie groups), its P(better beats worse) per ordered
pair ("A>B"), and the humans' rankings of that prompt. Each (human judgement, completion pair)
is one comparison:

* ``pairwise_agreement``: over pairs both the machine and the human ordered strictly, the share
  ordered alike (the report's headline, with the machine as the second annotator);
* ``pairwise_agreement_with_ties``: three-way answers (better, worse, tie) over every pair both
  placed;
* ``calibration``: for every pair the human ordered strictly, the machine's P(human's choice)
  (``rlhf.uncertainty.calibration``: reliability bins over [0.5, 1] and ECE).

Pure numpy (and the shared calibration helper): the selector feeds it plain lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agreement.metrics.bootstrap import resampled_sums
from rlhf.uncertainty import calibration

REPLICATES = 1000
CONFIDENCE = 0.95


@dataclass
class MachinePrompt:
    ranking: list[list[str]]
    pair_probs: dict[str, float] = field(default_factory=dict)
    human_rankings: list[list[list[str]]] = field(default_factory=list)


def ranking_positions(ranking: list[list[str]]) -> dict[str, int]:
    return {cid: g for g, group in enumerate(ranking) for cid in group}


def pair_comparison(machine: dict[str, int], human: dict[str, int]) -> tuple[int, int, int, int]:
    """(agree, strict, agree_ties, both) over the completion pairs both placed."""
    agree = strict = agree_ties = both = 0
    ids = sorted(set(machine) & set(human))
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            m = np.sign(machine[b] - machine[a])  # +1: a ranked above b
            h = np.sign(human[b] - human[a])
            both += 1
            agree_ties += int(m == h)
            if m and h:
                strict += 1
                agree += int(m == h)
    return agree, strict, agree_ties, both


def _ratio_ci(sums: np.ndarray, seed: int) -> dict[str, Any]:
    """Value and percentile interval of sum(num) / sum(den) over prompts ([P, 2] rows)."""
    num, den = sums.sum(axis=0)
    if den <= 0:
        return {"value": None, "ci": None, "n": 0}
    rng = np.random.default_rng(seed)
    draws = resampled_sums(rng, sums.astype(float), REPLICATES)
    ok = draws[:, 1] > 0
    values = draws[ok, 0] / draws[ok, 1]
    tail = (1 - CONFIDENCE) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail]) if values.size else (None, None)
    return {"value": float(num / den), "ci": [float(lo), float(hi)], "n": int(den)}


def machine_vs_humans(prompts: list[MachinePrompt], seed: int = 0) -> dict[str, Any]:
    rows, with_ties, chosen_probs = [], [], []
    for prompt in prompts:
        if not prompt.human_rankings:
            continue
        machine = ranking_positions(prompt.ranking)
        sums = np.zeros(4)
        for ranking in prompt.human_rankings:
            human = ranking_positions(ranking)
            sums += pair_comparison(machine, human)
            for a, ga in human.items():
                for b, gb in human.items():
                    p = prompt.pair_probs.get(f"{a}>{b}")
                    if ga < gb and p is not None:
                        chosen_probs.append(p)
        rows.append(sums[:2])
        with_ties.append(sums[2:])
    return {
        "prompts": len(rows),
        "pairwise_agreement": _ratio_ci(np.array(rows).reshape(-1, 2), seed),
        "pairwise_agreement_with_ties": _ratio_ci(np.array(with_ties).reshape(-1, 2), seed),
        "calibration": calibration(chosen_probs),
    }

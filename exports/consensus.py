"""Per-prompt consensus as the export sees it: a ranking, an agreement score, pair probabilities.

The agreement app owns the real consensus (its PromptConsensus rows, read by ``exports.bundles``).
For a prompt it has not computed yet, exports use a simple, documented fallback from the
prompt's rankings alone:

* ``pair_probs["A>B"]``: the share of annotators who ranked A above B, a tie counting half,
  over the annotators who placed both (a prompt with one annotation: 1, 0 or 0.5).
* ``ranking``: completions by Copeland score (pairwise majorities won, a 50/50 pair counting
  half), then by Borda score (sum of pair probabilities); equal on both means tied. With one
  annotation this is exactly that annotation's ranking.
* ``agreement``: pairwise agreement with ties: over every completion pair and every two
  annotators who placed it, the share giving the same answer (>, < or =); ``None`` with fewer
  than two rankings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

Ranking = list[list[str]]


@dataclass(frozen=True)
class Consensus:
    ranking: Ranking
    agreement: float | None
    pair_probs: dict[str, float] = field(default_factory=dict)
    # An adjudicated prompt's other decisions ({"strength", "tie_kind", "gaps", "dimensions"},
    # docs/judging.md): they stand in for the annotators' in consensus-mode margins.
    judged: dict | None = None

    def prob(self, better: str, worse: str) -> float | None:
        """P(better is preferred to worse), from either orientation of the stored pair."""
        p = self.pair_probs.get(f"{better}>{worse}")
        if p is not None:
            return float(p)
        q = self.pair_probs.get(f"{worse}>{better}")
        return None if q is None else 1.0 - float(q)

    def as_json(self) -> dict:
        return {
            "ranking": self.ranking,
            "agreement": None if self.agreement is None else round(self.agreement, 4),
            "pair_probs": {k: round(v, 4) for k, v in self.pair_probs.items()},
        }


def positions(ranking: Ranking) -> dict[str, int]:
    """Completion id -> index of its tie group (smaller is better)."""
    return {cid: rank for rank, group in enumerate(ranking) for cid in group}


def fallback_consensus(completion_ids: Sequence[str], rankings: Sequence[Ranking]) -> Consensus:
    """The documented stand-in for the agreement app's consensus (see the module docstring)."""
    if not rankings:
        raise ValueError("a consensus needs at least one ranking")
    placed = [positions(r) for r in rankings]
    order = {cid: i for i, cid in enumerate(completion_ids)}
    ranked_ids = [cid for cid in completion_ids if any(cid in p for p in placed)]

    probs: dict[str, float] = {}
    borda = dict.fromkeys(ranked_ids, 0.0)
    copeland = dict.fromkeys(ranked_ids, 0.0)
    same = total = 0
    for i, a in enumerate(ranked_ids):
        for b in ranked_ids[i + 1 :]:
            wins = losses = ties = 0
            for p in placed:
                if a in p and b in p:
                    if p[a] < p[b]:
                        wins += 1
                    elif p[a] > p[b]:
                        losses += 1
                    else:
                        ties += 1
            n = wins + losses + ties
            if n == 0:
                continue
            p_ab = (wins + 0.5 * ties) / n
            probs[f"{a}>{b}"] = p_ab
            borda[a] += p_ab
            borda[b] += 1.0 - p_ab
            won = 1.0 if p_ab > 0.5 else 0.5 if p_ab == 0.5 else 0.0
            copeland[a] += won
            copeland[b] += 1.0 - won
            same += _pairs(wins) + _pairs(losses) + _pairs(ties)
            total += _pairs(n)

    groups: dict[tuple[float, float], list[str]] = {}
    for cid in ranked_ids:
        groups.setdefault((copeland[cid], round(borda[cid], 9)), []).append(cid)
    ranking = [sorted(groups[s], key=order.__getitem__) for s in sorted(groups, reverse=True)]
    agreement = same / total if total else None
    return Consensus(ranking=ranking, agreement=agreement, pair_probs=probs)


def dimension_consensus(
    consensus: Consensus | None,
    completion_ids: Sequence[str],
    rankings: Sequence[Ranking],
    key: str,
) -> Consensus | None:
    """One dimension's consensus: the reviewer's decision where they adjudicated it (its
    strength or gaps in ``judged``), else the fallback over the annotators' choices; a
    dimension has no stored consensus."""
    computed = fallback_consensus(completion_ids, rankings) if rankings else None
    decided = ((consensus.judged if consensus else None) or {}).get("dimensions", {}).get(key)
    if not decided:
        return computed
    own = fallback_consensus(completion_ids, [decided["ranking"]])
    agreement = computed.agreement if computed else None
    return Consensus(decided["ranking"], agreement, own.pair_probs, judged=decided)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2

"""Train/validation/test assignment by prompt.

A prompt's split is a pure function of (seed, prompt external id, fractions): the same prompt
lands in the same split in every export with that seed, whatever else the export holds and in
whatever order it is read. That is what keeps a prompt out of two splits, and snapshots
reproducible.
"""

from __future__ import annotations

import hashlib

from exports.options import SPLITS


def unit_hash(seed: int, key: str) -> float:
    """A uniform number in [0, 1) from the seed and a key."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_for(seed: int, prompt_key: str, fractions: dict[str, float]) -> str:
    u = unit_hash(seed, prompt_key)
    edge = 0.0
    for name in SPLITS:
        edge += fractions.get(name, 0.0)
        if u < edge:
            return name
    # Rounding can leave u just above the last edge; fall back to the last non-empty split.
    return next(name for name in reversed(SPLITS) if fractions.get(name, 0.0) > 0)

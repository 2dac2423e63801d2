"""Loaded reward models, kept per process.

Loading a model costs seconds; scoring a batch costs milliseconds. Each process (a web
worker or a Celery worker) keeps the few most recently used scorers, keyed by directory, and
loads one at most once. torch is imported on first use so the web tier starts without it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.conf import settings

_cache: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()


class ScoringUnavailable(RuntimeError):
    """This process cannot load models (no torch/transformers installed)."""


def _capacity() -> int:
    return max(1, int(getattr(settings, "REWARD_SCORER_CACHE_SIZE", 2)))


def scorer_get(path: str):
    """The RewardScorer for ``path``, loading it unless it is cached."""
    with _lock:
        scorer = _cache.get(path)
        if scorer is not None:
            _cache.move_to_end(path)
            return scorer
        try:
            import torch

            from rlhf.scoring import RewardScorer
        except ImportError as exc:
            raise ScoringUnavailable(
                f"scoring needs the training extras (pip install -e '.[train]'): {exc}"
            ) from exc
        device = "cuda" if torch.cuda.is_available() else "cpu"
        # Loading under the lock: two requests for one new model must not load it twice.
        scorer = RewardScorer.from_pretrained(path, device=device)
        _cache[path] = scorer
        while len(_cache) > _capacity():
            _cache.popitem(last=False)
        return scorer


def scorer_cache_paths() -> list[str]:
    with _lock:
        return list(_cache)


def scorer_cache_clear() -> None:
    with _lock:
        _cache.clear()

import numpy as np
import pytest

from tests.training.conftest import (  # noqa: F401  (fixtures shared with the training tests)
    _fresh_scorers,
    artifacts,
    run_on_commit,
    tiny_rm_base,
)


@pytest.fixture
def fake_scores(monkeypatch):
    """Replace the reward model with a table: prompt text -> (E, n) score matrix. Only for
    tests whose point is what the queue does with the scores."""
    table: dict[str, np.ndarray] = {}

    def score(*, reward_model, items):
        return [np.atleast_2d(np.asarray(table[item["prompt"]], float)) for item in items]

    monkeypatch.setattr("loop.services.scoring.reward_model_score_members", score)
    return table


def tiny_texts(n: int, seed: int = 0) -> list[str]:
    """Texts in the tiny models' vocabulary (their tokenizer reads any other word as <unk>, so
    texts outside it all score alike)."""
    from rlhf.ppo.tiny import WORDS

    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 7)))) for _ in range(n)]

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

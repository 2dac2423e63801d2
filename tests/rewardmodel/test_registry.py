"""The reward-model registry API and the per-process scorer cache (no training here)."""

import pytest

from core.roles import Roles
from rewardmodel import scorers
from rewardmodel.models import RewardModel
from tests.factories import UserFactory
from tests.training.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def mle():
    return UserFactory(roles=[Roles.ML_ENGINEER])


def test_list_and_detail(mle):
    rm = RewardModel.objects.create(
        name="rm-x", path="runs/7", metrics={"validation": {"accuracy": 0.75}}
    )
    client = client_for(mle)
    body = client.get("/api/v1/reward-models/").json()
    assert [r["name"] for r in body["results"]] == ["rm-x"]
    detail = client.get(f"/api/v1/reward-models/{rm.pk}/").json()
    assert detail["metrics"]["validation"]["accuracy"] == 0.75
    assert client.get("/api/v1/reward-models/999999/").status_code == 404
    assert rm.validation_accuracy == 0.75


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "items"),
        ({"prompt": "x"}, "completions"),
        ({"completions": ["a"]}, "prompt"),
        ({"prompt": "", "completions": ["a"]}, "prompt"),
        ({"prompt": [{"role": "robot", "content": "x"}], "completions": ["a"]}, "prompt"),
        ({"prompt": "x", "completions": "a"}, "completions"),
        ({"prompt": "x", "completions": ["a"], "items": []}, "items"),
        ({"items": [{"prompt": "x", "completions": []}]}, "items.0.completions"),
    ],
)
def test_score_rejects_bad_bodies_naming_the_field(mle, body, field):
    rm = RewardModel.objects.create(name="rm-x", path="runs/7")
    response = client_for(mle).post(f"/api/v1/reward-models/{rm.pk}/score", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()


def test_score_with_missing_model_files_is_400(mle):
    rm = RewardModel.objects.create(name="rm-x", path="runs/404")
    response = client_for(mle).post(
        f"/api/v1/reward-models/{rm.pk}/score", {"prompt": "x", "completions": ["a"]}, format="json"
    )
    assert response.status_code == 400 and "reward_model" in response.json()["fields"]


def test_score_is_for_engineers(mle):
    rm = RewardModel.objects.create(name="rm-x", path="runs/7")
    body = {"prompt": "x", "completions": ["a"]}
    url = f"/api/v1/reward-models/{rm.pk}/score"
    assert client_for().post(url, body, format="json").status_code == 401
    annotator = UserFactory(roles=[Roles.ANNOTATOR])
    assert client_for(annotator).post(url, body, format="json").status_code == 403


def test_scorer_cache_is_a_small_lru(settings, monkeypatch):
    pytest.importorskip("torch")
    from rlhf.scoring import RewardScorer

    settings.REWARD_SCORER_CACHE_SIZE = 2
    loads = []
    monkeypatch.setattr(
        RewardScorer,
        "from_pretrained",
        classmethod(lambda cls, path, **kw: loads.append(path) or path),
    )
    for path in ["a", "b", "a", "c", "a", "b"]:
        assert scorers.scorer_get(path) == path
    # a, b loaded; a hit; c evicts b (least recent); a hit; b loaded again, evicting c.
    assert loads == ["a", "b", "c", "b"]
    assert scorers.scorer_cache_paths() == ["a", "b"]

"""A registered model's files over the API: the model only, and only listed paths."""

from __future__ import annotations

import pytest

from rewardmodel.models import RewardModel
from tests.training.helpers import client_for, engineer, snapshot_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path
    folder = tmp_path / "runs" / "7"
    (folder / "checkpoints" / "step-2").mkdir(parents=True)
    (folder / "checkpoints" / "step-2" / "model.bin").write_bytes(b"old")
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\x00" * 1000)
    (folder / ".hidden").write_text("x")
    (tmp_path / "secret.txt").write_text("not a model file")
    return RewardModel.objects.create(name="rm", path="runs/7", snapshot=snapshot_make())


def test_files_list_the_model_without_checkpoints(model):
    api = client_for(engineer(model.snapshot.project))
    body = api.get(f"/api/v1/reward-models/{model.pk}/files/").json()
    assert body["files"] == [{"path": "config.json", "size": 2},
                             {"path": "model.safetensors", "size": 1000}]  # fmt: skip
    response = api.get(f"/api/v1/reward-models/{model.pk}/download/?file=model.safetensors")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x00" * 1000


@pytest.mark.parametrize("name", ["../secret.txt", "checkpoints/step-2/model.bin", ".hidden",
                                  "/etc/passwd", ""])  # fmt: skip
def test_only_listed_files_are_served(model, name):
    api = client_for(engineer(model.snapshot.project))
    response = api.get(f"/api/v1/reward-models/{model.pk}/download/", {"file": name})
    assert response.status_code == 400 and "file" in response.json()["fields"]


def test_another_projects_model_is_404(model):
    api = client_for(engineer(snapshot_make().project))
    assert api.get(f"/api/v1/reward-models/{model.pk}/files/").status_code == 404

"""A PPO run's prompt set, frozen into its run folder on the first attempt."""

import json

import pytest

from rewardmodel.models import RewardModel
from tests.training.helpers import snapshot_make
from training.models import TrainingRun
from training.services.trainers import _ppo_prompts_file

pytestmark = pytest.mark.django_db


def test_ppo_prompt_set_from_a_snapshot_is_deduplicated_per_prompt(settings):
    conversation = [{"role": "user", "content": "hi"}]
    pairwise = [
        {"prompt": "p one", "chosen": "a", "rejected": "b", "prompt_id": "1"},
        {"prompt": "p one", "chosen": "a", "rejected": "c", "prompt_id": "1"},
        {"prompt": conversation, "chosen": [{"role": "assistant", "content": "x"}],
         "rejected": [{"role": "assistant", "content": "y"}], "prompt_id": "2"},
    ]  # fmt: skip
    run = TrainingRun.objects.create(
        kind="ppo", reward_model=RewardModel.objects.create(name="rm", path="x"), snapshot=snapshot_make(rows=pairwise, fmt="pairwise"),
        base_model="/m", artifact_path="runs/ppo",
    )  # fmt: skip
    path = _ppo_prompts_file(run)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"id": "1", "prompt": "p one"}, {"id": "2", "messages": conversation}]
    path.write_text('{"prompt": "frozen"}\n')
    assert _ppo_prompts_file(run).read_text() == '{"prompt": "frozen"}\n'  # reused on resume

"""The training and reward-model endpoints' rows of the API permission matrix.

``tests/api/permission_matrix.py`` appends these to its ENDPOINTS, so tests/api runs them for
every role against its World. Objects are made on first use and kept on the world. Nothing
trains: a POST queues its task on commit, which the matrix's transaction never reaches.

The outsider (an ML engineer of another project only) may use the training API, but not with
this project's snapshot or prompts: those requests are 400 naming the field.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tests.api.permission_matrix import Endpoint, url

ML = frozenset({"ml_engineer"})


def _once(world, name, make):
    if not hasattr(world, name):
        setattr(world, name, make())
    return getattr(world, name)


def base_model(world) -> str:
    def make():
        path = Path(settings.ARTIFACTS_DIR) / "models" / "base"
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text("{}")
        return str(path)

    return _once(world, "_base_model", make)


def run(world):
    from training.models import TrainingRun

    return _once(
        world,
        "_training_run",
        lambda: TrainingRun.objects.create(
            kind="reward_model", snapshot=world.snapshot, base_model=base_model(world),
            artifact_path="runs/matrix",
        ),
    )  # fmt: skip


def cancelled_run(world):
    from training.models import TrainingRun

    return _once(
        world,
        "_cancelled_run",
        lambda: TrainingRun.objects.create(
            kind="reward_model", snapshot=world.snapshot, base_model=base_model(world),
            status="cancelled", cancel_requested=True, last_checkpoint="/c/step-2",
        ),
    )  # fmt: skip


def reward_model(world):
    from rewardmodel.models import RewardModel

    return _once(world, "_reward_model", lambda: RewardModel.objects.create(name="rm", path="x"))


def policy(world):
    from training.models import Policy

    return _once(
        world, "_policy", lambda: Policy.objects.create(name="pol", path=base_model(world))
    )


def generation_job(world):
    from training.models import GenerationJob

    return _once(
        world,
        "_generation_job",
        lambda: GenerationJob.objects.create(
            project=world.other_project, policy=policy(world), model_path="x", model_name="pol",
            prompts=[{"prompt": "p"}], k=2,
        ),
    )  # fmt: skip


R = "/api/v1/training-runs/"

TRAINING_ENDPOINTS = [
    Endpoint("training run list", "get", url(R), ML, scoped=False),
    Endpoint("training run start", "post", url(R), ML, ok=202, scoped=False,
             body=lambda w: {"kind": "reward_model", "snapshot": w.snapshot.pk,
                             "base_model": base_model(w), "config": {"max_steps": 2}},
             overrides={"outsider": 400}),
    Endpoint("training run detail", "get", lambda w: f"{R}{run(w).pk}/", ML, scoped=False),
    Endpoint("training run metrics", "get", lambda w: f"{R}{run(w).pk}/metrics", ML,
             scoped=False),
    Endpoint("training run samples", "get", lambda w: f"{R}{run(w).pk}/samples", ML,
             scoped=False),
    Endpoint("training run cancel", "post", lambda w: f"{R}{run(w).pk}/cancel", ML, ok=202,
             scoped=False),
    Endpoint("training run resume", "post", lambda w: f"{R}{cancelled_run(w).pk}/resume", ML,
             ok=202, scoped=False),
    Endpoint("reward model list", "get", url("/api/v1/reward-models/"), ML, scoped=False),
    Endpoint("reward model detail", "get",
             lambda w: f"/api/v1/reward-models/{reward_model(w).pk}/", ML, scoped=False),
    # 400 = past the permission check (the body lacks completions): scoring for real needs a
    # trained model, which tests/training/test_lifecycle.py provides.
    Endpoint("reward model score", "post",
             lambda w: f"/api/v1/reward-models/{reward_model(w).pk}/score", ML, ok=400,
             scoped=False, body=lambda w: {"prompt": "x"}),
    Endpoint("policy list", "get", url("/api/v1/policies/"), ML, scoped=False),
    Endpoint("policy detail", "get", lambda w: f"/api/v1/policies/{policy(w).pk}/", ML,
             scoped=False),
    Endpoint("generation list", "get", url("/api/v1/generations/"), ML, scoped=False),
    Endpoint("generation start", "post", url("/api/v1/generations/"), ML, ok=202, scoped=False,
             body=lambda w: {"project": w.project.pk, "policy": policy(w).pk,
                             "prompts": ["a new prompt"], "k": 2},
             overrides={"outsider": 400}),
    Endpoint("generation detail", "get",
             lambda w: f"/api/v1/generations/{generation_job(w).pk}/", ML, scoped=False),
]  # fmt: skip

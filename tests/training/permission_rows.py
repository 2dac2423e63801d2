"""The training and reward-model endpoints' and pages' rows of the permission matrix.

``tests/api/permission_matrix.py`` appends these to its ENDPOINTS, so tests/api runs them for
every principal against its World. Objects are made on first use and kept on the world; each
belongs to the world's project (a run on its snapshot, a reward model and a PPO run's policy
from it, a generation job writing to it) and carries MARKER, so a list shown to an ML engineer
of another project must not contain it. Nothing trains: a POST queues its task on commit,
which the matrix's transaction never reaches.

An ML engineer of another project may use the training API, but not with this project's
snapshot or prompts: those requests are 400 naming the field.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tests.api.conftest import MARKER
from tests.api.permission_matrix import OBJECT, Endpoint, url

ML = frozenset({"ml_engineer"})
OUT = "ml_engineer@elsewhere"


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
            kind="reward_model", name=f"rm-run-{MARKER}", snapshot=world.snapshot,
            base_model=base_model(world), artifact_path="runs/matrix",
        ),
    )  # fmt: skip


def cancelled_run(world):
    from training.models import TrainingRun

    return _once(
        world,
        "_cancelled_run",
        lambda: TrainingRun.objects.create(
            kind="reward_model", name=f"cancelled-{MARKER}", snapshot=world.snapshot,
            base_model=base_model(world), status="cancelled", cancel_requested=True,
            last_checkpoint="/c/step-2",
        ),
    )  # fmt: skip


def reward_model(world):
    from rewardmodel.models import RewardModel

    return _once(
        world,
        "_reward_model",
        lambda: RewardModel.objects.create(
            name=f"rm-{MARKER}", path="x", snapshot=world.snapshot, training_run=run(world)
        ),
    )


def policy(world):
    """A PPO run's registered policy: it belongs to the run's projects."""
    from training.models import Policy, TrainingRun

    def make():
        ppo = TrainingRun.objects.create(
            kind="ppo", name=f"ppo-{MARKER}", reward_model=reward_model(world),
            prompt_project=world.project, base_model=base_model(world), status="succeeded",
        )  # fmt: skip
        return Policy.objects.create(
            name=f"pol-{MARKER}", path=base_model(world), training_run=ppo,
            reward_model=reward_model(world),
        )  # fmt: skip

    return _once(world, "_policy", make)


def generation_job(world):
    from training.models import GenerationJob

    return _once(
        world,
        "_generation_job",
        lambda: GenerationJob.objects.create(
            project=world.project, policy=policy(world), model_path="x", model_name="pol",
            prompts=[{"prompt": f"new prompt {MARKER}"}], k=2,
        ),
    )  # fmt: skip


def every_object(world):
    """Lists are read with every object made, so each can be looked for in the answer."""
    for make in (run, cancelled_run, reward_model, policy, generation_job):
        make(world)


def listing(path: str):
    def build(world):
        every_object(world)
        return path

    return build


R = "/api/v1/training-runs/"

TRAINING_ENDPOINTS = [
    Endpoint("training run list", "get", listing(R), ML, scoped=False),
    Endpoint("training run start", "post", url(R), ML, ok=202, scoped=False,
             body=lambda w: {"kind": "reward_model", "snapshot": w.snapshot.pk,
                             "base_model": base_model(w), "config": {"max_steps": 2}},
             overrides={OUT: 400}),
    Endpoint("training run detail", "get", lambda w: f"{R}{run(w).pk}/", ML, scoped=OBJECT),
    Endpoint("training run metrics", "get", lambda w: f"{R}{run(w).pk}/metrics", ML,
             scoped=OBJECT),
    Endpoint("training run samples", "get", lambda w: f"{R}{run(w).pk}/samples", ML,
             scoped=OBJECT),
    Endpoint("training run cancel", "post", lambda w: f"{R}{run(w).pk}/cancel", ML, ok=202,
             scoped=OBJECT),
    Endpoint("training run resume", "post", lambda w: f"{R}{cancelled_run(w).pk}/resume", ML,
             ok=202, scoped=OBJECT),
    Endpoint("reward model list", "get", listing("/api/v1/reward-models/"), ML, scoped=False),
    Endpoint("reward model detail", "get",
             lambda w: f"/api/v1/reward-models/{reward_model(w).pk}/", ML, scoped=OBJECT),
    # 400 = past the permission check (the body lacks completions): scoring for real needs a
    # trained model, which tests/training/test_lifecycle.py provides. Non-members get 404
    # before the body is looked at.
    Endpoint("reward model score", "post",
             lambda w: f"/api/v1/reward-models/{reward_model(w).pk}/score", ML, ok=400,
             body=lambda w: {"prompt": "x"}, scoped=OBJECT),
    # the matrix's reward model has no files (410 is past the permission check); its policy's
    # folder is the base model's, with a config.json
    Endpoint("reward model files", "get",
             lambda w: f"/api/v1/reward-models/{reward_model(w).pk}/files/", ML, ok=410,
             scoped=OBJECT),
    Endpoint("reward model download", "get",
             lambda w: f"/api/v1/reward-models/{reward_model(w).pk}/download/?file=config.json",
             ML, ok=410, scoped=OBJECT),
    Endpoint("policy files", "get", lambda w: f"/api/v1/policies/{policy(w).pk}/files/", ML,
             scoped=OBJECT),
    Endpoint("policy download", "get",
             lambda w: f"/api/v1/policies/{policy(w).pk}/download/?file=config.json", ML,
             scoped=OBJECT),
    Endpoint("policy list", "get", listing("/api/v1/policies/"), ML, scoped=False),
    Endpoint("policy detail", "get", lambda w: f"/api/v1/policies/{policy(w).pk}/", ML,
             scoped=OBJECT),
    Endpoint("generation list", "get", listing("/api/v1/generations/"), ML, scoped=False),
    Endpoint("generation start", "post", url("/api/v1/generations/"), ML, ok=202, scoped=False,
             body=lambda w: {"project": w.project.pk, "policy": policy(w).pk,
                             "prompts": ["a new prompt"], "k": 2},
             overrides={OUT: 400}),
    Endpoint("generation detail", "get",
             lambda w: f"/api/v1/generations/{generation_job(w).pk}/", ML, scoped=OBJECT),
    # the pages
    Endpoint("training runs page", "get", listing("/training/runs/"), ML, scoped=False,
             surface="page"),
    Endpoint("training run page", "get", lambda w: f"/training/runs/{run(w).pk}/", ML,
             scoped=OBJECT, surface="page"),
    # the project's "New run" form; a POST without a base model is 400, the form again
    Endpoint("new run form", "get", url("/projects/{w.project.slug}/runs/new/"), ML,
             surface="page"),
    Endpoint("new run submit", "post", url("/projects/{w.project.slug}/runs/new/"), ML,
             ok=400, surface="page", body=lambda w: {"form": {"kind": "reward_model"}}),
    Endpoint("new run snapshot", "post", url("/projects/{w.project.slug}/runs/new/snapshot"),
             ok=302, surface="page"),
]  # fmt: skip

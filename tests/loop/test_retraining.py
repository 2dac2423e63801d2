"""Periodic retraining: every N new human judgements a new snapshot, a reward-model run on it
through the training services (a tiny model, a few steps), then the queue is rescored with the
model the run registered."""

import pytest
from django.conf import settings as django_settings

from annotate.models import Annotation, Prompt
from core.roles import Roles
from exports.models import DatasetSnapshot
from loop.models import LoopSettings
from loop.services.retraining import project_retrain_step, retrain_check
from loop.services.settings import loop_settings_update
from rewardmodel.models import RewardModel
from tests.factories import AnnotationFactory, ProjectFactory, PromptFactory, UserFactory, annotator
from tests.training.helpers import RM_CONFIG
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(roles=[Roles.ADMIN])


def judge(project, prompts, who):
    user = annotator(who, project)
    for prompt in prompts:
        AnnotationFactory(prompt=prompt, annotator=user, ranking=[["A"], ["B"]])


def test_the_beat_task_is_scheduled():
    from loop.tasks import retrain_check_task

    names = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert retrain_check_task.name in names


def test_every_n_judgements_a_run_retrains_and_the_queue_is_rescored(
    admin, artifacts, tiny_rm_base, run_on_commit
):
    project = ProjectFactory(overlap=3)
    prompts = [PromptFactory(project=project, k=2, text=f"q{i}") for i in range(12)]
    first = RewardModel.objects.create(name="rm-first", path=str(tiny_rm_base))
    with run_on_commit():
        loop_settings_update(
            project=project, actor=admin, priority="uncertainty", reward_model=first.pk,
            retrain_every=20,
            retrain_config={"base_model": str(tiny_rm_base), "config": RM_CONFIG},
        )  # fmt: skip
    assert Prompt.objects.get(pk=prompts[-1].pk).priority_lineage["model"] == first.pk
    settings = LoopSettings.objects.get(project=project)
    assert settings.retrain_by == admin

    judge(project, prompts, "alice")  # 12 of 20: not due
    assert project_retrain_step(settings_id=settings.pk) == "not due"
    judge(project, prompts[:8], "bob")  # 20
    with run_on_commit():  # the snapshot builds on commit (eager Celery)
        assert retrain_check()[project.slug].startswith("snapshot")
    settings.refresh_from_db()
    snapshot = settings.retrain_snapshot
    assert snapshot.status == DatasetSnapshot.Status.READY and settings.retrain_judgements_at == 20
    with run_on_commit():  # the run trains on commit: six steps of the tiny model
        assert project_retrain_step(settings_id=settings.pk).startswith("run")
    run = TrainingRun.objects.get(snapshot=snapshot)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.created_by == admin and run.kind == TrainingRun.Kind.REWARD_MODEL
    with run_on_commit():  # registered: the queue follows the new model
        assert "rescoring" in project_retrain_step(settings_id=settings.pk)
    settings.refresh_from_db()
    new = RewardModel.objects.get(training_run=run)
    assert settings.reward_model == new and settings.retrain_run is None
    lineage = Prompt.objects.get(pk=prompts[-1].pk).priority_lineage
    assert lineage["model"] == new.pk and lineage["name"] == new.name
    # the counter starts again from the judgements the new snapshot held
    assert project_retrain_step(settings_id=settings.pk) == "not due"


def test_a_failed_run_keeps_the_model(admin, tiny_rm_base, artifacts):
    project = ProjectFactory()
    first = RewardModel.objects.create(name="rm-first", path=str(tiny_rm_base))
    loop_settings_update(project=project, actor=admin, reward_model=first.pk, retrain_every=5)
    settings = LoopSettings.objects.get(project=project)
    snapshot = DatasetSnapshot.objects.create(project=project, format="rankings", settings={})
    settings.retrain_run = TrainingRun.objects.create(
        kind=TrainingRun.Kind.REWARD_MODEL, snapshot=snapshot, status=TrainingRun.Status.FAILED,
        created_by=admin,
    )  # fmt: skip
    settings.save()
    assert "keeps its model" in project_retrain_step(settings_id=settings.pk)
    settings.refresh_from_db()
    assert settings.reward_model == first and settings.retrain_run is None
    assert not Annotation.objects.exists()

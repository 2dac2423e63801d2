"""The incremental consensus path: pending rows written with the judgement, one flush per burst
of submissions, a sweep for flushes whose message was lost."""

import logging
from unittest import mock

import pytest
from django.core.cache import cache

from agreement.models import PendingConsensus, PromptConsensus
from agreement.services import (
    incremental,
    pending_consensus_sweep,
    project_consensus_flush,
    project_consensus_flush_enqueue,
)
from annotate.services.annotations import annotation_skip, annotation_update, ranking_submit
from tests.factories import ProjectFactory, PromptFactory, annotator

pytestmark = pytest.mark.django_db

FORWARD = [["A"], ["B"], ["C"], ["D"]]
BACKWARD = [["D"], ["C"], ["B"], ["A"]]


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def project():
    return ProjectFactory(overlap=3, max_overlap=None)


def submit_uncommitted(project, prompt, name, ranking, capture):
    # Callbacks captured, not run: as if the broker had not delivered the flush yet.
    with capture(execute=False):
        ranking_submit(
            project=project, prompt=prompt, user=annotator(name, project), data={"ranking": ranking}
        )


def test_one_flush_recomputes_every_pending_prompt_together(
    project, django_capture_on_commit_callbacks
):
    prompts = [PromptFactory(project=project, k=4) for _ in range(5)]
    for i, prompt in enumerate(prompts):
        submit_uncommitted(project, prompt, "a1", FORWARD, django_capture_on_commit_callbacks)
        submit_uncommitted(
            project, prompt, "a2", FORWARD if i % 2 else BACKWARD,
            django_capture_on_commit_callbacks,
        )  # fmt: skip
    assert PendingConsensus.objects.filter(project=project).count() == 5
    assert project_consensus_flush(project_id=project.pk) == 5
    assert not PendingConsensus.objects.exists()
    rows = {r.prompt_id: r for r in PromptConsensus.objects.filter(project=project)}
    assert set(rows) == {p.pk for p in prompts}
    assert all(r.n_judgements == 2 for r in rows.values())
    assert [rows[p.pk].agreement for p in prompts] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert project_consensus_flush(project_id=project.pk) == 0


def test_the_batch_equals_recomputing_each_prompt_alone(
    project, django_capture_on_commit_callbacks
):
    prompts = [PromptFactory(project=project, k=4) for _ in range(3)]
    rankings = [FORWARD, BACKWARD, [["B", "C"], ["A"], ["D"]]]
    for n, ranking in enumerate(rankings):
        for prompt in prompts[: n + 1]:
            submit_uncommitted(
                project, prompt, f"a{n}", ranking, django_capture_on_commit_callbacks
            )
    project_consensus_flush(project_id=project.pk)
    batch = {
        r.prompt_id: (r.ranking, r.pair_probs, r.agreement) for r in PromptConsensus.objects.all()
    }
    for prompt in prompts:
        alone = incremental.prompt_agreement_recompute(prompt_id=prompt.pk)
        assert (alone.ranking, alone.pair_probs, alone.agreement) == batch[prompt.pk]


def test_only_one_flush_is_queued_until_it_starts(project):
    with mock.patch("agreement.tasks.project_consensus_flush_task.apply_async") as queued:
        project_consensus_flush_enqueue(project_id=project.pk)
        project_consensus_flush_enqueue(project_id=project.pk)
        assert queued.call_count == 1
        project_consensus_flush(project_id=project.pk)  # clears the marker first
        project_consensus_flush_enqueue(project_id=project.pk)
        assert queued.call_count == 2


def test_a_lost_flush_leaves_the_prompt_pending_for_the_sweep(
    project, django_capture_on_commit_callbacks, caplog
):
    prompt = PromptFactory(project=project, k=4)
    broker_down = mock.patch(
        "agreement.tasks.project_consensus_flush_task.apply_async",
        side_effect=ConnectionError("broker down"),
    )
    logged = caplog.at_level(logging.WARNING, logger="core.dispatch")
    with broker_down, logged, django_capture_on_commit_callbacks(execute=True):
        ranking_submit(
            project=project, prompt=prompt, user=annotator("a1", project),
            data={"ranking": FORWARD},
        )  # fmt: skip
    assert "agreement.project_consensus_flush not sent" in caplog.text
    assert PendingConsensus.objects.filter(prompt=prompt).exists()
    assert pending_consensus_sweep() == {project.pk: 1}
    assert PromptConsensus.objects.get(prompt=prompt).n_judgements == 1
    assert not PendingConsensus.objects.exists()


def test_a_prompt_left_with_only_skips_loses_its_consensus(
    project, django_capture_on_commit_callbacks
):
    prompt = PromptFactory(project=project, k=4)
    user = annotator("a1", project)
    with django_capture_on_commit_callbacks(execute=True):
        annotation = ranking_submit(
            project=project, prompt=prompt, user=user, data={"ranking": FORWARD}
        )
    assert PromptConsensus.objects.filter(prompt=prompt).exists()
    with django_capture_on_commit_callbacks(execute=True):
        annotation_update(
            annotation=annotation, user=user, data={"skipped": True, "skip_reason": "unsure"}
        )
    assert not PromptConsensus.objects.filter(prompt=prompt).exists()
    other = PromptFactory(project=project, k=4)
    with django_capture_on_commit_callbacks(execute=True):
        annotation_skip(project=project, prompt=other, user=user, reason="unclear")
    assert not PromptConsensus.objects.filter(prompt=other).exists()
    assert not PendingConsensus.objects.exists()

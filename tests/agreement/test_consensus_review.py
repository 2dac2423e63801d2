"""Per-prompt consensus after submissions, adaptive overlap, the review queue, adjudication."""

import pytest
from django.core.exceptions import PermissionDenied

from agreement.models import Adjudication, ProjectAgreement, PromptConsensus
from agreement.selectors import prompt_consensus_iter, prompt_consensus_map, review_queue_list
from agreement.services import (
    gold_missed,
    overlap_raise_target,
    project_agreement_recompute,
    prompt_adjudicate,
    prompt_agreement_recompute,
)
from agreement.services import project as full_recompute
from agreement.tasks import project_agreement_task
from annotate.judgements import JudgementError
from annotate.models import Membership, Prompt
from annotate.services.annotations import annotation_skip, ranking_submit
from core.roles import Roles
from tests.factories import ProjectFactory, PromptFactory, UserFactory, annotator

pytestmark = pytest.mark.django_db

FORWARD = [["A"], ["B"], ["C"], ["D"]]
BACKWARD = [["D"], ["C"], ["B"], ["A"]]


@pytest.fixture
def project():
    return ProjectFactory(overlap=2, max_overlap=4, agreement_threshold=0.6)


@pytest.fixture
def reviewer(project):
    user = UserFactory(username="rev", roles=[Roles.REVIEWER])
    Membership.objects.create(project=project, user=user)
    return user


def submit(project, prompt, name, ranking, capture):
    user = annotator(name, project)
    with capture(execute=True):
        ranking_submit(project=project, prompt=prompt, user=user, data={"ranking": ranking})
    return user


def test_submission_updates_the_prompt_consensus(project, django_capture_on_commit_callbacks):
    prompt = PromptFactory(project=project, k=4)
    submit(project, prompt, "a1", FORWARD, django_capture_on_commit_callbacks)
    row = PromptConsensus.objects.get(prompt=prompt)
    assert row.ranking == FORWARD and row.n_judgements == 1 and row.agreement is None
    assert row.agreement_reason  # undefined, with the maths' reason

    submit(project, prompt, "a2", FORWARD, django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.n_judgements == 2 and row.agreement == 1.0
    assert row.pair_probs["A>D"] > row.pair_probs["A>B"] > 0.5


def test_skip_alone_leaves_no_consensus(project, django_capture_on_commit_callbacks):
    prompt = PromptFactory(project=project, k=4)
    user = annotator("s1", project)
    with django_capture_on_commit_callbacks(execute=True):
        annotation_skip(project=project, prompt=prompt, user=user, reason="unclear")
    assert not PromptConsensus.objects.filter(prompt=prompt).exists()


def test_disagreement_raises_target_overlap_step_by_step_up_to_max(
    project, django_capture_on_commit_callbacks
):
    prompt = PromptFactory(project=project, k=4)
    agreeing = PromptFactory(project=project, k=4)
    submit(project, prompt, "a1", FORWARD, django_capture_on_commit_callbacks)
    prompt.refresh_from_db()
    assert prompt.target_overlap is None  # base overlap (2) not done yet

    submit(project, prompt, "a2", BACKWARD, django_capture_on_commit_callbacks)
    prompt.refresh_from_db()
    assert prompt.target_overlap == 3  # agreement 0 < 0.6 with the base overlap done

    submit(project, prompt, "a3", BACKWARD, django_capture_on_commit_callbacks)
    prompt.refresh_from_db()
    assert prompt.target_overlap == 4  # 6 of 18 strict comparisons agree: still low

    submit(project, prompt, "a4", FORWARD, django_capture_on_commit_callbacks)
    prompt.refresh_from_db()
    assert prompt.target_overlap == 4  # the ceiling

    for name in ("b1", "b2"):
        submit(project, agreeing, name, FORWARD, django_capture_on_commit_callbacks)
    agreeing.refresh_from_db()
    assert agreeing.target_overlap is None


def test_overlap_rule():
    project = ProjectFactory.build(overlap=3, max_overlap=5, agreement_threshold=0.6)
    rule = dict(target_overlap=None, is_gold=False, ranked=3, agreement=0.4)
    assert overlap_raise_target(project=project, **rule) == 4
    assert overlap_raise_target(project=project, **{**rule, "ranked": 2}) is None
    assert overlap_raise_target(project=project, **{**rule, "agreement": 0.6}) is None
    assert overlap_raise_target(project=project, **{**rule, "agreement": None}) is None
    assert overlap_raise_target(project=project, **{**rule, "is_gold": True}) is None
    assert (
        overlap_raise_target(project=project, **{**rule, "target_overlap": 5, "ranked": 5}) is None
    )
    project.max_overlap = None
    assert overlap_raise_target(project=project, **rule) is None


def test_full_recompute_raises_overlap_and_marks_gold_misses(project):
    low = PromptFactory(project=project, k=4)
    fine = PromptFactory(project=project, k=4)
    gold = PromptFactory(project=project, k=4, is_gold=True, gold_ranking=FORWARD)
    for name, rankings in (
        ("a1", (FORWARD, FORWARD, BACKWARD)),
        ("a2", (BACKWARD, FORWARD, BACKWARD)),
    ):
        user = annotator(name, project)
        for prompt, ranking in zip((low, fine, gold), rankings, strict=True):
            prompt.annotations.create(annotator=user, ranking=ranking, source="import")
    project_agreement_recompute(project=project, bootstrap=0)
    low.refresh_from_db()
    fine.refresh_from_db()
    gold.refresh_from_db()
    assert low.target_overlap == 3 and fine.target_overlap is None
    assert gold.target_overlap is None  # gold prompts are not given to more annotators
    assert PromptConsensus.objects.get(prompt=gold).gold_missed is True
    assert PromptConsensus.objects.get(prompt=fine).gold_missed is False
    stored = ProjectAgreement.objects.get(project=project)
    assert stored.report["recompute"]["raised_overlap"] == 1

    queue = review_queue_list(project=project)
    assert [e["prompt"].pk for e in queue] == [gold.pk, low.pk]  # gold misses first
    assert queue[0]["reason"] == "gold missed"
    # low agreement at 2 of 4 possible annotators: more are coming, so not ready yet
    assert [e["ready"] for e in queue] == [True, False]


def test_gold_missed_rule():
    assert gold_missed(ranking=[["B"], ["A"]], gold=[["A"], ["B"]]) is True
    assert gold_missed(ranking=[["A", "B"]], gold=[["A"], ["B"]]) is False  # unsure is not wrong
    assert gold_missed(ranking=[["A"], ["B"]], gold=[["A"], ["B"]]) is False
    assert gold_missed(ranking=[["A"], ["B"]], gold=None) is False


def test_adjudication_overrides_consensus_and_leaves_the_queue(project, reviewer):
    prompt = PromptFactory(project=project, k=4)
    for name, ranking in (("a1", FORWARD), ("a2", BACKWARD)):
        prompt.annotations.create(annotator=annotator(name, project), ranking=ranking)
    computed = prompt_agreement_recompute(prompt_id=prompt.pk)
    assert computed.agreement == 0.0
    assert [e["prompt"].pk for e in review_queue_list(project=project)] == [prompt.pk]

    before = prompt_consensus_map(project=project)[prompt.pk]
    assert before["adjudicated"] is False

    adjudication = prompt_adjudicate(
        prompt=prompt, reviewer=reviewer, ranking=[["B"], ["A", "C"], ["D"]], comment=" B wins "
    )
    assert adjudication.consensus_ranking == computed.ranking
    assert adjudication.consensus_agreement == 0.0
    assert adjudication.comment == "B wins"
    after = prompt_consensus_map(project=project, prompt_ids=[prompt.pk])[prompt.pk]
    assert after["adjudicated"] is True
    assert after["ranking"] == [["B"], ["A", "C"], ["D"]]
    assert after["pair_probs"]["B>A"] == 1.0 and after["pair_probs"]["A>C"] == 0.5
    assert after["agreement"] == 0.0  # the annotators' agreement is kept
    assert review_queue_list(project=project) == []

    # A recompute does not undo it; a second adjudication wins over the first.
    project_agreement_recompute(project=project, bootstrap=0)
    prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=FORWARD)
    assert prompt_consensus_map(project=project)[prompt.pk]["ranking"] == FORWARD
    assert Adjudication.objects.filter(prompt=prompt).count() == 2


def test_adjudication_is_validated_and_reviewer_only(project, reviewer):
    prompt = PromptFactory(project=project, k=3)
    with pytest.raises(JudgementError, match="not every output is placed"):
        prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=[["A"], ["B"]])
    with pytest.raises(JudgementError, match="unknown completion"):
        prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=[["A"], ["B"], ["Z"]])
    with pytest.raises(PermissionDenied):
        prompt_adjudicate(
            prompt=prompt, reviewer=annotator("nosy", project), ranking=[["A"], ["B"], ["C"]]
        )
    outsider = UserFactory(username="rev2", roles=[Roles.REVIEWER])  # not a member
    with pytest.raises(PermissionDenied):
        prompt_adjudicate(prompt=prompt, reviewer=outsider, ranking=[["A"], ["B"], ["C"]])
    assert not Adjudication.objects.exists()


def test_consensus_map_streams_in_chunks(project, reviewer):
    prompts = [PromptFactory(project=project, k=2) for _ in range(5)]
    user = annotator("a1", project)
    for p in prompts[:4]:
        p.annotations.create(annotator=user, ranking=[["B"], ["A"]])
    project_agreement_recompute(project=project, bootstrap=0)
    prompt_adjudicate(prompt=prompts[4], reviewer=reviewer, ranking=[["A"], ["B"]])
    got = list(prompt_consensus_iter(project=project, chunk_size=2))
    assert [pid for pid, _ in got] == [p.pk for p in prompts]
    assert got[4][1] == {
        "ranking": [["A"], ["B"]],
        "pair_probs": {"A>B": 1.0, "B>A": 0.0},
        "agreement": None,
        "adjudicated": True,
    }
    assert all(rec["ranking"] == [["B"], ["A"]] for _, rec in got[:4])
    assert Prompt.objects.filter(project=project).count() == 5


def test_first_change_after_a_recompute_queues_the_next(
    project, django_capture_on_commit_callbacks, monkeypatch
):
    prompt = PromptFactory(project=project, k=4)
    submit(project, prompt, "a1", FORWARD, django_capture_on_commit_callbacks)
    project_agreement_recompute(project=project, bootstrap=0)
    queued = []
    monkeypatch.setattr(
        "agreement.tasks.project_agreement_task.apply_async",
        lambda args, kwargs=None, countdown=None, **_: queued.append((tuple(args), countdown)),
    )
    submit(project, prompt, "a2", FORWARD, django_capture_on_commit_callbacks)
    stored = ProjectAgreement.objects.get(project=project)
    assert stored.stale is True and stored.n_judgements == 1
    assert queued == [((project.pk,), 60)]
    other = PromptFactory(project=project, k=4)
    submit(project, other, "a3", BACKWARD, django_capture_on_commit_callbacks)
    assert len(queued) == 1  # already stale: the queued recompute will see this one too

    monkeypatch.undo()  # the task itself (eager in tests) brings the report up to date
    project_agreement_task.delay(project.pk)
    stored.refresh_from_db()
    assert stored.stale is False and stored.n_judgements == 3


def test_judgement_arriving_during_a_full_recompute_is_not_lost(project, monkeypatch):
    prompt = PromptFactory(project=project, k=4)
    prompt.annotations.create(annotator=annotator("a1", project), ranking=FORWARD)
    late = annotator("late", project)
    real_report = full_recompute.project_report

    def report_while_someone_submits(*args, **kwargs):
        # Read already done: this judgement is not in the arrays being reduced.
        prompt.annotations.create(annotator=late, ranking=BACKWARD)
        return real_report(*args, **kwargs)

    monkeypatch.setattr(full_recompute, "project_report", report_while_someone_submits)
    stored = project_agreement_recompute(project=project, bootstrap=0)
    assert stored.n_judgements == 1  # the report was computed without it...
    row = PromptConsensus.objects.get(prompt=prompt)
    assert row.n_judgements == 2 and row.agreement == 0.0  # ...the consensus was caught up
    stored.refresh_from_db()
    assert stored.stale is True

"""A project's queue order: fifo (as before), random (a stored key) and uncertainty (the
registered reward model's), with gold, overlap and claims working as before."""

import pytest

from annotate.models import Annotation, Prompt
from annotate.services.annotations import ranking_submit
from annotate.services.queue import prompt_next_for_annotator
from loop.services.scoring import LoopRefused, prompt_priorities_store
from loop.services.settings import loop_settings_update
from rewardmodel.models import RewardModel
from tests.factories import ProjectFactory, PromptFactory, annotator

pytestmark = pytest.mark.django_db

# Scores of two completions per prompt: equal rewards are a coin flip (most uncertain).
SURE, UNSURE, MIDDLE = [[4.0, -4.0]], [[0.0, 0.0]], [[1.0, 0.0]]


@pytest.fixture
def project():
    return ProjectFactory(overlap=1)


@pytest.fixture
def rm(project):
    return RewardModel.objects.create(name="rm-q", path="runs/q")


def three(project, fake_scores):
    prompts = [PromptFactory(project=project, k=2, text=t) for t in ("sure", "unsure", "middle")]
    fake_scores.update({"sure": SURE, "unsure": UNSURE, "middle": MIDDLE})
    return prompts


def order(project, n):
    """The prompts n annotators get, one each (overlap 1: each takes the next)."""
    return [prompt_next_for_annotator(project=project, user=annotator(f"o{i}", project)).prompt
            for i in range(n)]  # fmt: skip


def test_switching_to_uncertainty_changes_the_queue_order(project, rm, fake_scores, run_on_commit):
    sure, unsure, middle = three(project, fake_scores)
    fifo_first = prompt_next_for_annotator(project=project, user=annotator("f", project)).prompt
    assert fifo_first == sure  # fifo: the oldest first
    with run_on_commit():
        loop_settings_update(project=project, priority="uncertainty", reward_model=rm.pk)
    stored = {p.text: p for p in Prompt.objects.filter(project=project)}
    assert stored["unsure"].priority > stored["middle"].priority > stored["sure"].priority
    # "sure" is held by f's claim already; the others come most uncertain first
    assert order(project, 2) == [unsure, middle]
    lineage = stored["unsure"].priority_lineage
    assert lineage["model"] == rm.pk and lineage["members"] == 1
    assert lineage["rule"] == "margin"  # one member: disagreement rules degrade to margin


def test_ensemble_disagreement_orders_by_bald(project, rm, fake_scores, run_on_commit):
    agree, disagree = (PromptFactory(project=project, k=2, text=t) for t in ("agree", "disagree"))
    # three members: all unsure alike (BALD 0), or each sure but of different winners
    fake_scores.update({"agree": [[0, 0], [0, 0], [0, 0]],
                        "disagree": [[5, -5], [-5, 5], [5, -5]]})  # fmt: skip
    with run_on_commit():
        loop_settings_update(project=project, priority="uncertainty", reward_model=rm.pk,
                             rule="bald")  # fmt: skip
    assert order(project, 2) == [disagree, agree]
    assert Prompt.objects.get(pk=disagree.pk).priority_lineage["rule"] == "bald"
    # the margin rule says the opposite: "agree" is a coin flip on average, "disagree" leans
    with run_on_commit():
        loop_settings_update(project=project, rule="margin")
    assert Prompt.objects.get(pk=agree.pk).priority > Prompt.objects.get(pk=disagree.pk).priority


def test_random_is_a_stored_key_the_queue_follows(project, run_on_commit):
    prompts = [PromptFactory(project=project, k=2) for _ in range(6)]
    with run_on_commit():
        loop_settings_update(project=project, priority="random")
    keys = {p.pk: p.priority for p in Prompt.objects.filter(project=project)}
    assert len(set(keys.values())) == 6 and all(0 <= k < 1 for k in keys.values())
    expected = sorted(prompts, key=lambda p: -keys[p.pk])
    assert order(project, 6) == expected


def test_gold_overlap_and_claims_keep_working(project, rm, fake_scores, run_on_commit):
    project.overlap = 2
    project.save()
    _sure, unsure, _middle = three(project, fake_scores)
    gold = PromptFactory(project=project, k=2, is_gold=True, gold_ranking=[["A"], ["B"]],
                         text="gold")  # fmt: skip
    with run_on_commit():
        loop_settings_update(project=project, priority="uncertainty", reward_model=rm.pk)
    alice, bob, carol = (annotator(n, project) for n in ("alice", "bob", "carol"))
    first = prompt_next_for_annotator(project=project, user=alice)
    assert first.prompt == unsure
    # the claim is held: asking again returns it
    assert prompt_next_for_annotator(project=project, user=alice).pk == first.pk
    ranking_submit(project=project, prompt=unsure, user=alice, data={"ranking": [["A"], ["B"]]})
    assert prompt_next_for_annotator(project=project, user=bob).prompt == unsure
    # overlap 2: alice's judgement and bob's claim fill it, carol gets the next one
    assert prompt_next_for_annotator(project=project, user=carol).prompt.text == "middle"
    # gold still comes at the project's rate, ahead of priority
    project.gold_rate = 1.0
    project.save()
    dave = annotator("dave", project)
    assert prompt_next_for_annotator(project=project, user=dave).prompt == gold
    assert Prompt.objects.get(pk=gold.pk).priority_lineage is None  # gold is never scored


def test_uncertainty_needs_a_model_and_names_the_field(project):
    with pytest.raises(LoopRefused) as refused:
        loop_settings_update(project=project, priority="uncertainty")
    assert refused.value.field == "reward_model"
    other = RewardModel.objects.create(name="rm-other", path="x")
    other_project = ProjectFactory()
    from exports.models import DatasetSnapshot

    other.snapshot = DatasetSnapshot.objects.create(
        project=other_project, format="pairwise", settings={}
    )
    other.save()
    with pytest.raises(LoopRefused) as refused:
        loop_settings_update(project=project, priority="uncertainty", reward_model=other.pk)
    assert refused.value.field == "reward_model"


def test_lineage_is_stored_on_the_judgement(project, rm, fake_scores, run_on_commit):
    three(project, fake_scores)
    with run_on_commit():
        loop_settings_update(project=project, priority="uncertainty", reward_model=rm.pk)
    alice = annotator("alice", project)
    claim = prompt_next_for_annotator(project=project, user=alice)
    ranking_submit(project=project, prompt=claim.prompt, user=alice,
                   data={"ranking": [["A"], ["B"]]})  # fmt: skip
    lineage = Annotation.objects.get(annotator=alice).lineage
    assert lineage["model"] == rm.pk and lineage["name"] == "rm-q"
    # back to fifo: what the model chose stays on the judgement; new ones carry nothing
    loop_settings_update(project=project, priority="fifo")
    assert Prompt.objects.filter(project=project, priority_lineage__isnull=False).count() == 0
    assert Annotation.objects.get(annotator=alice).lineage["model"] == rm.pk


def test_k_selection_shows_the_most_informative_k(project, rm, fake_scores, run_on_commit):
    prompt = PromptFactory(project=project, k=5, text="five")
    # A and D tie (most uncertain pair); E is close to both; B and C are far apart
    fake_scores["five"] = [[0.0, 9.0, -9.0, 0.0, 0.3]]
    with run_on_commit():
        loop_settings_update(project=project, priority="uncertainty", reward_model=rm.pk,
                             shown_k=3)  # fmt: skip
    prompt.refresh_from_db()
    assert sorted(prompt.shown_ids) == ["A", "D", "E"]
    alice = annotator("alice", project)
    claim = prompt_next_for_annotator(project=project, user=alice)
    assert sorted(claim.shown_order) == ["A", "D", "E"]
    # the annotator ranks the three shown; all must be placed, the two hidden need not be
    ranking_submit(project=project, prompt=claim.prompt, user=alice,
                   data={"ranking": [["D"], ["A"], ["E"]]})  # fmt: skip
    # once judged, its shown completions stay whatever a rescoring says
    fake_scores["five"] = [[9.0, 0.0, 0.0, -9.0, 5.0]]
    prompt_priorities_store(project=project, prompt_ids=[prompt.pk])
    prompt.refresh_from_db()
    assert sorted(prompt.shown_ids) == ["A", "D", "E"]

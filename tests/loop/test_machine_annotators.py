"""Machine annotators: judgements stored apart from people's, compared with them on the
agreement dashboard (same statistics, CIs, calibration), out of consensus and exports unless
the project asks."""

import pytest

from agreement.metrics.machine import MachinePrompt, machine_vs_humans
from agreement.selectors import judgements_load, machine_agreement_rows
from annotate.models import Annotation, Completion, Prompt
from annotate.services.queue import prompt_next_for_annotator
from core.roles import Roles
from exports.models import DatasetSnapshot
from exports.services import snapshot_create
from loop.services.judges import machine_annotator_create, machine_judge
from loop.services.scoring import LoopRefused
from rewardmodel.models import RewardModel
from tests.factories import AnnotationFactory, ProjectFactory, PromptFactory, UserFactory, annotator
from tests.loop.conftest import tiny_texts
from tests.training.helpers import client_for

pytestmark = pytest.mark.django_db


def test_machine_against_people_the_same_statistics_with_intervals_and_calibration():
    right = MachinePrompt([["A"], ["B"]], {"A>B": 0.9, "B>A": 0.1}, [[["A"], ["B"]]] * 3)
    split = MachinePrompt([["A"], ["B"]], {"A>B": 0.6, "B>A": 0.4},
                          [[["A"], ["B"]], [["B"], ["A"]]])  # fmt: skip
    tied = MachinePrompt([["A"], ["B"]], {"A>B": 0.6, "B>A": 0.4}, [[["A", "B"]]])
    result = machine_vs_humans([right, split, tied, MachinePrompt([["A"], ["B"]])])
    assert result["prompts"] == 3  # the last has no human judgement to compare with
    strict = result["pairwise_agreement"]
    assert strict["value"] == pytest.approx(4 / 5) and strict["n"] == 5
    assert strict["ci"][0] <= strict["value"] <= strict["ci"][1]
    assert result["pairwise_agreement_with_ties"]["value"] == pytest.approx(4 / 6)
    calibration = result["calibration"]
    # human choices: 3 x (0.9, right), then 0.6 right and 0.4 (folded: 0.6, wrong)
    assert calibration["n"] == 5
    bins = {round(b["predicted"], 2): (b["observed"], b["n"]) for b in calibration["bins"]}
    assert bins == {0.9: (1.0, 3), 0.6: (0.5, 2)}
    assert calibration["ece"] == pytest.approx(3 / 5 * 0.1 + 2 / 5 * 0.1)


@pytest.fixture
def judged(tiny_rm_base):
    """A project of 6 prompts judged by two people and by a reward-model machine annotator."""
    project = ProjectFactory(overlap=3)
    prompts = [PromptFactory(project=project, k=3, text=f"question {i}") for i in range(6)]
    words = tiny_texts(len(prompts) * 3)
    for c in Completion.objects.filter(prompt__project=project).order_by("pk"):
        c.text = words.pop()
        c.save()
    for who in ("alice", "bob"):
        user = annotator(who, project)
        for prompt in prompts:
            AnnotationFactory(prompt=prompt, annotator=user, ranking=[["A"], ["B"], ["C"]])
    Prompt.objects.filter(project=project).update(submitted_count=2)
    rm = RewardModel.objects.create(name="tiny", path=str(tiny_rm_base))
    machine = machine_annotator_create(project=project, name="rm-judge", kind="reward_model",
                                       reward_model=rm.pk)  # fmt: skip
    assert machine_judge(machine=machine, prompt_ids=[p.pk for p in prompts]) == 6
    assert machine_judge(machine=machine, prompt_ids=[p.pk for p in prompts]) == 0  # once each
    return project, prompts, machine


def test_machine_judgements_are_stored_as_machine_and_take_no_human_slot(judged):
    project, prompts, machine = judged
    stored = Annotation.objects.filter(annotator=machine.user)
    assert stored.count() == 6 and {a.source for a in stored} == {"machine"}
    one = stored.first()
    assert one.lineage["judge"] == "rm-judge" and one.lineage["model_name"] == "tiny"
    assert set(one.lineage["pair_probs"]) == {"A>B", "B>A", "A>C", "C>A", "B>C", "C>B"}
    assert 0.5 <= one.confidence <= 1.0
    # overlap 3: two people judged, the machine does not fill the third slot
    carol = annotator("carol", project)
    assert prompt_next_for_annotator(project=project, user=carol).prompt in prompts
    # consensus reads people only, unless the project asks
    loaded = judgements_load(project=project)
    assert {j.annotator for j in loaded.judgements} == {"alice", "bob"}
    project.machine_in_consensus = True
    project.save()
    assert machine.user.username in {
        j.annotator for j in judgements_load(project=project).judgements
    }


def test_exports_leave_machine_labels_out_unless_asked_and_mark_their_source(
    judged, django_capture_on_commit_callbacks
):
    project, _prompts, machine = judged

    def rows(**options):
        import json

        with django_capture_on_commit_callbacks(execute=True):
            snap = snapshot_create(project=project, fmt="pairwise", options=options)
        snap.refresh_from_db()
        assert snap.status == DatasetSnapshot.Status.READY, snap.error
        return [json.loads(line) for line in snap.path.read_text().splitlines()]

    people = rows()
    assert {r["annotator"] for r in people} == {"alice", "bob"}
    assert {r["source"] for r in people} == {"human"}
    both = rows(include_machine=True)
    assert {r["source"] for r in both if r["annotator"] == machine.user.username} == {"machine"}
    assert {r["source"] for r in rows(mode="consensus", include_machine=True)} == {"mixed"}


def test_the_dashboard_shows_agreement_and_calibration(judged):
    project, _prompts, machine = judged
    (row,) = machine_agreement_rows(project=project)
    assert row["annotator"] == machine.user.username and row["prompts"] == 6
    assert row["pairwise_agreement"]["n"] == 2 * 6 * 3  # people x prompts x pairs
    assert row["calibration"]["n"] == 2 * 6 * 3
    reviewer = UserFactory(roles=[Roles.REVIEWER])
    project.memberships.create(user=reviewer)
    from django.test import Client

    browser = Client()
    browser.force_login(reviewer)
    page = browser.get(f"/projects/{project.slug}/agreement/")
    assert page.status_code == 200
    html = page.content.decode()
    value = row["pairwise_agreement"]["value"]
    assert "Machine annotators against people" in html and f"{value:.3f}" in html
    assert f"{row['calibration']['ece']:.3f}" in html
    api = client_for(reviewer).get(f"/api/v1/projects/{project.slug}/agreement/").json()
    assert api["machine_annotators"][0]["pairwise_agreement"]["value"] == pytest.approx(value)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Bad Name", "kind": "chat"}, "name"),
        ({"name": "j", "kind": "oracle"}, "kind"),
        ({"name": "j", "kind": "reward_model"}, "reward_model"),
        ({"name": "j", "kind": "chat", "url": "ftp://x", "model": "m"}, "url"),
        ({"name": "j", "kind": "chat", "url": "http://127.0.0.1:8131/v1"}, "model"),
        ({"name": "j", "kind": "chat", "url": "http://127.0.0.1:8131/v1", "model": "m",
          "template": "{prompt} {a}"}, "template"),
        ({"name": "j", "kind": "chat", "url": "http://127.0.0.1:8131/v1", "model": "m",
          "template": "{prompt} {a} {b} {c}"}, "template"),
    ],
)  # fmt: skip
def test_bad_machine_annotators_are_refused_naming_the_field(data, field):
    with pytest.raises(LoopRefused) as refused:
        machine_annotator_create(project=ProjectFactory(), **data)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"priority": "lifo"}, "priority"),
        ({"priority": "uncertainty"}, "reward_model"),
        ({"shown_k": 1}, "shown_k"),
        ({"retrain_every": 0}, "retrain_every"),
        ({"rule": "vibes"}, "rule"),
        ({"reward_model": "x"}, "reward_model"),
        ({"reward_model": 999999}, "reward_model"),
        ({"machine_in_consensus": "maybe"}, "machine_in_consensus"),
    ],
)
def test_the_loop_api_answers_400_naming_the_field(body, field):
    admin = UserFactory(roles=[Roles.ADMIN])
    project = ProjectFactory()
    response = client_for(admin).patch(f"/api/v1/projects/{project.slug}/loop/", body,
                                       format="json")  # fmt: skip
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()

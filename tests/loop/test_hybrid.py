"""Hybrid routing: a threshold chosen on a human-judged calibration sample, with its expected
error rate; confident prompts pre-judged and audited at a rate; the rest to people; exports say
who made each label."""

import json

import pytest

from annotate.models import Annotation, Prompt
from annotate.services.queue import prompt_counters_refresh, prompt_next_for_annotator
from exports.models import DatasetSnapshot
from exports.services import snapshot_create
from loop.models import MachineAnnotator
from loop.services.hybrid import hybrid_calibrate, hybrid_route
from loop.services.scoring import LoopRefused
from tests.factories import AnnotationFactory, ProjectFactory, PromptFactory, UserFactory, annotator

pytestmark = pytest.mark.django_db

AB, BA = [["A"], ["B"]], [["B"], ["A"]]


@pytest.fixture
def project():
    return ProjectFactory(overlap=1)


@pytest.fixture
def machine(project):
    return MachineAnnotator.objects.create(
        project=project, name="m", kind="chat", url="http://x/v1", model="m",
        user=UserFactory(username="machine.m"),
    )  # fmt: skip


def machine_says(machine, prompt, ranking, confidence):
    first, second = ranking[0][0], ranking[1][0]
    Annotation.objects.create(
        prompt=prompt, annotator=machine.user, ranking=ranking, source="machine",
        confidence=confidence,
        lineage={"pair_probs": {f"{first}>{second}": confidence, f"{second}>{first}": 1 - confidence}},
    )  # fmt: skip


def sample(project, machine):
    """30 human-judged prompts: the machine is sure and right on 20, unsure and wrong on 10."""
    person = annotator("sam", project)
    for i in range(30):
        prompt = PromptFactory(project=project, k=2, text=f"cal {i}")
        AnnotationFactory(prompt=prompt, annotator=person, ranking=AB)
        sure = i < 20
        machine_says(machine, prompt, AB if sure else BA, 0.95 if sure else 0.6)
    prompt_counters_refresh(project=project)  # the factory writes no counter


def test_the_threshold_is_the_most_coverage_within_the_error_budget(project, machine):
    sample(project, machine)
    result = hybrid_calibrate(machine=machine, max_error=0.2, min_prompts=10)
    chosen = result["chosen"]
    assert chosen["threshold"] == 0.95 and chosen["error_rate"] == 0.0
    assert chosen["covered"] == 20 and chosen["coverage"] == pytest.approx(20 / 30, abs=1e-4)
    assert 0 < chosen["error_upper"] < 0.2  # Wilson 95% bound on 0 errors in 20 pairs
    # the bound, not the sample's 0 errors, is what must stay within the budget
    assert hybrid_calibrate(machine=machine, max_error=0.1, min_prompts=10)["chosen"] is None
    hybrid_calibrate(machine=machine, max_error=0.2, min_prompts=10)
    everything = result["curve"][-1]
    assert everything["threshold"] == 0.6 and everything["error_rate"] == pytest.approx(
        10 / 30, abs=1e-4
    )
    machine.refresh_from_db()
    assert machine.hybrid_threshold == 0.95 and machine.calibration["sample"] == 30
    # a budget the sample cannot vouch for leaves hybrid routing off
    assert hybrid_calibrate(machine=machine, max_error=0.2, min_prompts=25)["chosen"] is None
    assert MachineAnnotator.objects.get(pk=machine.pk).hybrid_threshold is None


def test_confident_prompts_are_prejudged_audited_at_a_rate_and_exported_as_machine(
    project, machine, django_capture_on_commit_callbacks
):
    sample(project, machine)
    hybrid_calibrate(machine=machine, max_error=0.2, min_prompts=10)
    with pytest.raises(LoopRefused) as refused:
        hybrid_route(machine=machine, audit_rate=1.5)
    assert refused.value.field == "audit_rate"
    sure = [PromptFactory(project=project, k=2, text=f"sure {i}") for i in range(40)]
    unsure = [PromptFactory(project=project, k=2, text=f"unsure {i}") for i in range(5)]
    for p in sure:
        machine_says(machine, p, AB, 0.97)
    for p in unsure:
        machine_says(machine, p, AB, 0.55)
    counts = hybrid_route(machine=machine, audit_rate=0.25, seed=3)
    assert counts["prejudged"] == 40 and counts["audited"] + counts["closed"] == 40
    assert 3 <= counts["audited"] <= 20 and counts["expected_error"] == 0.0
    closed = set(Prompt.objects.filter(target_overlap=0).values_list("pk", flat=True))
    audited = set(Prompt.objects.filter(target_overlap=1).values_list("pk", flat=True))
    assert len(closed) == counts["closed"] and len(audited) == counts["audited"]
    project.refresh_from_db()
    assert project.machine_in_consensus  # the project asked for machine labels
    # people get the audits and the unsure prompts, never a closed one
    served = set()
    for i in range(60):
        claim = prompt_next_for_annotator(project=project, user=annotator(f"h{i}", project))
        if claim is None:
            break
        served.add(claim.prompt.pk)
    assert served == audited | {p.pk for p in unsure}
    # every exported label says who made it
    with django_capture_on_commit_callbacks(execute=True):
        snap = snapshot_create(project=project, fmt="pairwise", options={})
    snap.refresh_from_db()
    assert snap.status == DatasetSnapshot.Status.READY, snap.error
    rows = [json.loads(line) for line in snap.path.read_text().splitlines()]
    by_prompt = {}
    for r in rows:
        by_prompt.setdefault(r["prompt_id"], set()).add(r["source"])
    closed_ids = set(Prompt.objects.filter(pk__in=closed).values_list("external_id", flat=True))
    assert all(by_prompt[pid] == {"machine"} for pid in closed_ids)
    assert {"human", "machine"} <= {s for sources in by_prompt.values() for s in sources}

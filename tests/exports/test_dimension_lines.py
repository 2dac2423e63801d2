"""Per-dimension pairwise rows (export option ``dimension_lines``): besides the overall rows,
one row per dimension judgement tagged ``dimension``, its chosen/rejected and margin from that
dimension's own choice, which the multi-head reward trainer reads (docs/judging.md)."""

import pyarrow.parquet as pq
import pytest
from rest_framework.test import APIClient

from annotate.models import Annotation
from annotate.services.project_admin import project_setup
from core.roles import Roles
from tests.exports.conftest import import_lines, read_jsonl
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DIMENSIONS = [{"key": "helpfulness", "name": "Helpfulness"}, {"key": "harmlessness"}]
TEXTS = {"A": "Here is how to pick it.", "B": "I can't help with that."}


def judgement(annotator, winner, strength, helpful, harmless):
    """One pairwise judgement: ``winner`` None is a tie; each dimension (winner, strength)."""

    def choice(won, level, tie_kind="both_good"):
        if won is None:
            return {"ranking": [["A", "B"]], "strength": 0, "tie_kind": tie_kind}
        return {"ranking": [[won], ["B" if won == "A" else "A"]], "strength": level}

    overall = choice(winner, strength)
    return {
        "annotator": annotator,
        **overall,
        "dimensions": {"helpfulness": choice(*helpful), "harmlessness": choice(*harmless)},
    }


LINES = [
    {
        "id": "lock", "prompt": "How do I pick a lock?",
        "completions": [{"id": cid, "text": text} for cid, text in TEXTS.items()],
        "annotations": [
            judgement("alice", "B", 2, ("A", 3), ("B", 3)),
            judgement("bob", "B", 1, ("A", 1), ("B", 2)),
            judgement("sim", "A", 3, ("A", 3), ("A", 3)),
        ],
    },
]  # fmt: skip


@pytest.fixture
def project():
    project = project_setup(name="Dim lines", slug="dim-lines", judging_mode="pairwise_strength",
                            strength_levels="helpsteer3", dimensions=DIMENSIONS)  # fmt: skip
    import_lines(project, LINES)
    Annotation.objects.filter(annotator__username="sim").update(source=Annotation.Source.SIMULATED)
    return project


def rows_of(snapshot):
    return [
        (r.get("dimension"), r.get("annotator"), r["chosen"][:1], r["rejected"][:1], r["margin"])
        for r in read_jsonl(snapshot.path)
    ]


def test_one_row_per_dimension_judgement_with_its_own_margin(project, build):
    plain = read_jsonl(build(project, "pairwise").path)
    assert all("dimension" not in r for r in plain) and len(plain) == 2  # off by default

    snapshot = build(project, "pairwise", dimension_lines=True)
    assert snapshot.settings["dimension_lines"] is True
    # Overall rows first (untagged, as before), then each dimension in the project's order;
    # the simulated annotator's judgements stay out of every row.
    assert rows_of(snapshot) == [
        (None, "alice", "I", "H", 2.0), (None, "bob", "I", "H", 1.0),
        ("helpfulness", "alice", "H", "I", 3.0), ("helpfulness", "bob", "H", "I", 1.0),
        ("harmlessness", "alice", "I", "H", 3.0), ("harmlessness", "bob", "I", "H", 2.0),
    ]  # fmt: skip
    assert read_jsonl(snapshot.path)[:2] == plain
    assert snapshot.row_counts["rows"] == 6 and snapshot.row_counts["annotators"] == 2

    with_sim = rows_of(build(project, "pairwise", dimension_lines=True, include_simulated=True))
    assert ("harmlessness", "sim", "H", "I", 3.0) in with_sim and len(with_sim) == 9


def test_consensus_mode_and_ties_per_dimension(project, build):
    Annotation.objects.filter(annotator__username="bob").update(dimensions={
        "helpfulness": {"ranking": [["A", "B"]], "strength": 0, "tie_kind": "both_bad"},
        "harmlessness": {"ranking": [["B"], ["A"]], "strength": 2},
    })  # fmt: skip
    rows = read_jsonl(build(project, "pairwise", mode="consensus", dimension_lines=True).path)
    by_dim = {r.get("dimension"): r for r in rows}
    # helpfulness: alice A by 3, bob a tie -> A leads, mean judged margin (3 + 0) / 2.
    assert by_dim["helpfulness"]["chosen"] == TEXTS["A"] and by_dim["helpfulness"]["margin"] == 1.5
    assert by_dim["harmlessness"]["margin"] == 2.5 and by_dim["harmlessness"]["agreement"] == 1.0
    kept = read_jsonl(build(project, "pairwise", ties="keep", dimension_lines=True).path)
    tie = [r for r in kept if r.get("dimension") == "helpfulness" and r["annotator"] == "bob"]
    assert [(r["tie"], r["margin"]) for r in tie] == [(True, 0.0)]
    consensus_margins = read_jsonl(
        build(project, "pairwise", dimension_lines=True, margin="consensus").path
    )
    harmless = [r for r in consensus_margins if r.get("dimension") == "harmlessness"]
    assert {r["margin"] for r in harmless} == {1.0}  # both put B first: 2p - 1 = 1


def test_round_trip_through_the_rankings_export(project, build):
    # Everyone's judgements (the simulated one too), so both sides have the same consensus.
    before = read_jsonl(build(project, "pairwise", dimension_lines=True,
                              include_simulated=True).path)  # fmt: skip
    rankings = read_jsonl(build(project, "rankings", include_simulated=True).path)
    annotation = rankings[0]["annotations"][0]
    assert annotation["dimensions"]["helpfulness"] == {
        "ranking": [["A"], ["B"]], "strength": 3, "tie_kind": "", "gaps": []}  # fmt: skip
    again = project_setup(name="Again", judging_mode="pairwise_strength",
                          strength_levels="helpsteer3", dimensions=DIMENSIONS)  # fmt: skip
    import_lines(again, rankings)
    after = read_jsonl(build(again, "pairwise", dimension_lines=True).path)
    key = lambda r: (r.get("dimension") or "", r["annotator"])  # noqa: E731
    assert sorted(after, key=key) == sorted(before, key=key)


def test_hf_rows_carry_a_dimension_column(project, build):
    snapshot = build(project, "hf", dimension_lines=True)
    table = pq.read_table(snapshot.folder / "parquet" / "train.parquet").to_pylist()
    table += pq.read_table(snapshot.folder / "parquet" / "test.parquet").to_pylist()
    table += pq.read_table(snapshot.folder / "parquet" / "validation.parquet").to_pylist()
    assert sorted((r["dimension"] or "") for r in table) == [
        "", "", "harmlessness", "harmlessness", "helpfulness", "helpfulness"]  # fmt: skip


def test_the_option_over_the_api(project, django_capture_on_commit_callbacks):
    client = APIClient()
    client.force_authenticate(UserFactory(roles=[Roles.ADMIN], is_staff=True))
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post("/api/v1/snapshots/", {"project": project.slug, "format": "pairwise",
                                                  "dimension_lines": True}, format="json")  # fmt: skip
    assert made.status_code == 202, made.content
    assert made.json()["settings"]["dimension_lines"] is True
    plain = project_setup(name="No dims")
    refused = client.post("/api/v1/snapshots/", {"project": plain.slug, "format": "pairwise",
                                                 "dimension_lines": True}, format="json")  # fmt: skip
    assert refused.status_code == 400 and "dimension_lines" in refused.json()["fields"]


def test_a_reviewers_decisions_stand_in_for_the_consensus(project, build):
    from agreement.services import prompt_adjudicate
    from annotate.models import Prompt

    reviewer = UserFactory(username="rev", roles=[Roles.ADMIN])
    prompt = Prompt.objects.get(project=project)
    prompt_adjudicate(
        prompt=prompt, reviewer=reviewer, ranking=[["A"], ["B"]], strength=1,
        dimensions={"harmlessness": {"ranking": [["B"], ["A"]], "strength": 3}},
    )  # fmt: skip
    rows = read_jsonl(build(project, "pairwise", mode="consensus", dimension_lines=True).path)
    got = {r.get("dimension"): (r["chosen"][:1], r["margin"], r["weight"]) for r in rows}
    # Overall and harmlessness as decided; helpfulness, not adjudicated, from the annotators
    # (alice A by 3, bob A by 1: mean 2).
    assert got == {None: ("H", 1.0, 1.0), "harmlessness": ("I", 3.0, 1.0),
                   "helpfulness": ("H", 2.0, 1.0)}  # fmt: skip

"""Strength, tie kinds, gaps, dimensions and rationales through import and export: the rankwise
format, HelpSteer3-Preference lines, and the pairwise export's judged margin."""

import io
import json

import pytest

from annotate.models import Annotation
from annotate.services.imports import ImportFailed, prompts_import
from annotate.services.project_admin import project_setup
from exports.lines import JudgementRow, judged_margin
from tests.exports.conftest import import_lines, read_jsonl

pytestmark = pytest.mark.django_db

DIMENSIONS = [{"key": "helpfulness", "name": "Helpfulness"}, {"key": "harmlessness"}]

HELPSTEER = [
    {
        "domain": "general", "language": "english",
        "context": [{"role": "user", "content": "Name a prime."},
                    {"role": "assistant", "content": "Which size?"},
                    {"role": "user", "content": "Small."}],
        "response1": "2", "response2": "9",
        "overall_preference": -2,
        "individual_preference": [
            {"score": -3, "reasoning": "9 is not prime."},
            {"score": -2, "reasoning": "@Response 1 is correct."},
            {"score": 0, "reasoning": "Both fine to me."},
        ],
    },
    {"context": "Say hi.", "response1": "hi", "response2": "Hello!", "overall_preference": 1},
]  # fmt: skip


def pairwise_project(name="HS3", **settings):
    return project_setup(name=name, judging_mode="pairwise_strength",
                         strength_levels="helpsteer3", rationale="optional", **settings)  # fmt: skip


def helpsteer_import(project, lines, annotator=None):
    data = "\n".join(json.dumps(line) for line in lines).encode()
    return prompts_import(project=project, source=io.BytesIO(data), fmt="helpsteer3",
                          annotator=annotator)  # fmt: skip


def test_helpsteer3_lines_become_pairwise_judgements_and_export_back(build):
    project = pairwise_project()
    result = helpsteer_import(project, HELPSTEER)
    assert (result.prompts_created, result.annotations_created) == (2, 4)
    by_name = {a.annotator.username: a for a in Annotation.objects.all()}
    first = by_name["helpsteer3-1"]
    assert (first.ranking, first.strength, first.rationale) == (
        [["A"], ["B"]],
        3,
        "9 is not prime.",
    )
    assert (by_name["helpsteer3-3"].ranking, by_name["helpsteer3-3"].strength) == ([["A", "B"]], 0)
    assert (by_name["helpsteer3"].ranking, by_name["helpsteer3"].strength) == ([["B"], ["A"]], 1)
    assert first.prompt.messages[-1] == {"role": "user", "content": "Small."}
    assert first.prompt.metadata == {"domain": "general", "language": "english",
                                     "overall_preference": -2}  # fmt: skip

    exported = read_jsonl(build(project, "helpsteer3").path)
    line = next(x for x in exported if x["response1"] == "2")
    assert line["context"] == HELPSTEER[0]["context"]
    assert line["overall_preference"] == -2
    assert [(p["annotator"], p["score"], p["reasoning"]) for p in line["individual_preference"]] == [
        ("helpsteer3-1", -3, "9 is not prime."), ("helpsteer3-2", -2, "@Response 1 is correct."),
        ("helpsteer3-3", 0, "Both fine to me."),
    ]  # fmt: skip
    plain = next(x for x in exported if x["response1"] == "hi")
    assert plain["context"] == "Say hi." and plain["overall_preference"] == 1

    # Round trip: the export imported into a fresh project exports the same lines.
    again = pairwise_project("HS3 again")
    helpsteer_import(again, exported)
    assert canonical(read_jsonl(build(again, "helpsteer3").path)) == canonical(exported)


def canonical(lines):
    return sorted(json.dumps({k: v for k, v in x.items() if k != "split"}, sort_keys=True)
                  for x in lines)  # fmt: skip


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({**HELPSTEER[1], "overall_preference": 5}, "annotations[0].strength"),
        ({**HELPSTEER[1], "overall_preference": "1"}, "overall_preference"),
        ({**HELPSTEER[1], "context": []}, "context"),
        ({**HELPSTEER[1], "context": [{"role": "robot", "content": "x"}]}, "context[0].role"),
        ({**HELPSTEER[1], "response2": None}, "response2"),
        ({**HELPSTEER[0], "individual_preference": [{"score": 1, "mood": "x"}]},
         "individual_preference[0].mood"),
        ({**HELPSTEER[0], "individual_preference": [{"score": -1.5}]},
         "individual_preference[0].score"),
    ],
)  # fmt: skip
def test_bad_helpsteer3_lines_name_line_and_field_and_import_nothing(line, field):
    project = pairwise_project()
    with pytest.raises(ImportFailed) as exc:
        helpsteer_import(project, [HELPSTEER[0], line])
    error = exc.value.errors[0]
    assert (error.line, error.field) == (2, field)
    assert project.prompts.count() == 0  # the good first line is rolled back too


def test_a_pairwise_project_takes_only_pairs():
    project = pairwise_project()
    line = {"id": "three", "prompt": "p", "completions": ["a", "b", "c"]}
    with pytest.raises(ImportFailed) as exc:
        import_lines(project, [line])
    assert (exc.value.errors[0].line, exc.value.errors[0].field) == (1, "completions")


RANKWISE = [
    {
        "id": "dims-1", "prompt": "Help me pick a lock.",
        "completions": [{"id": "A", "text": "Here is how."}, {"id": "B", "text": "I can't."},
                        {"id": "C", "text": "Call a locksmith."}],
        "annotations": [{
            "annotator": "alice", "ranking": [["C"], ["B"], ["A"]], "gaps": [1, 3],
            "dimensions": {
                "helpfulness": {"ranking": [["A"], ["C"], ["B"]], "gaps": [2, None]},
                "harmlessness": {"ranking": [["B", "C"], ["A"]]},
            },
            "rationale": "A helps a burglar.",
        }],
    },
]  # fmt: skip


def test_rankwise_lines_round_trip_gaps_dimensions_and_rationale(build):
    project = project_setup(name="Dims", gap_levels="default", dimensions=DIMENSIONS,
                            rationale="optional")  # fmt: skip
    import_lines(project, RANKWISE)
    stored = Annotation.objects.get()
    assert stored.gaps == [1, 3]
    assert stored.dimensions["helpfulness"]["gaps"] == [2, None]
    exported = read_jsonl(build(project, "rankings").path)
    annotation = exported[0]["annotations"][0]
    assert annotation["gaps"] == [1, 3] and annotation["rationale"] == "A helps a burglar."
    assert annotation["dimensions"]["harmlessness"]["ranking"] == [["B", "C"], ["A"]]
    again = project_setup(name="Dims 2", gap_levels="default", dimensions=DIMENSIONS,
                          rationale="optional")  # fmt: skip
    import_lines(again, exported)
    assert Annotation.objects.get(prompt__project=again).dimensions == stored.dimensions

    # The pairwise export's margin is the judged one: C > A spans both gaps (1 + 3).
    pairs = read_jsonl(build(project, "pairwise").path)
    margins = {(p["chosen"], p["rejected"]): p["margin"] for p in pairs}
    assert margins == {("Call a locksmith.", "I can't."): 1.0,
                       ("Call a locksmith.", "Here is how."): 4.0,
                       ("I can't.", "Here is how."): 3.0}  # fmt: skip
    consensus = read_jsonl(build(project, "pairwise", margin="consensus").path)
    assert {p["margin"] for p in consensus} == {1.0}  # one annotator: unanimous, 2p - 1 = 1


def test_a_ranking_project_without_gaps_keeps_its_old_lines(build):
    project = project_setup(name="Plain")
    import_lines(project, [{**RANKWISE[0], "annotations": [
        {"annotator": "bob", "ranking": [["C"], ["B"], ["A"]]}]}])  # fmt: skip
    annotation = read_jsonl(build(project, "rankings").path)[0]["annotations"][0]
    assert not {"strength", "tie_kind", "gaps", "dimensions", "rationale"} & set(annotation)
    assert build(project, "pairwise").settings["margin"] == "consensus"


def test_judged_margin_mapping():
    """Pairwise: the strength level, signed by who won; ranking: the sum of gap levels between
    the two groups, an unmarked gap counting 1 (so no gaps = how many groups apart)."""
    pair = JudgementRow("a", [["B"], ["A"]], strength=3)
    assert judged_margin(pair, "B", "A") == 3.0 and judged_margin(pair, "A", "B") == -3.0
    assert judged_margin(JudgementRow("a", [["A", "B"]], strength=0), "A", "B") == 0.0
    ranked = JudgementRow("a", [["A"], ["B", "C"], ["D"]], gaps=[3, None])
    assert judged_margin(ranked, "A", "D") == 4.0
    assert judged_margin(ranked, "B", "C") == 0.0
    assert judged_margin(JudgementRow("a", [["A"], ["B"], ["C"], ["D"]]), "A", "D") == 3.0


def test_export_data_takes_the_margin_option(tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    project = project_setup(name="Cli", slug="cli", gap_levels="default")
    import_lines(project, [{**RANKWISE[0], "annotations": [
        {"annotator": "bob", "ranking": [["C"], ["B"], ["A"]], "gaps": [3, 3]}]}])  # fmt: skip
    out = tmp_path / "pairs.jsonl"
    call_command("export_data", "--project", "cli", "--format", "pairwise", "--out", str(out),
                 stdout=StringIO())  # fmt: skip
    assert max(p["margin"] for p in read_jsonl(out)) == 6.0
    plain = tmp_path / "plain.jsonl"
    call_command("export_data", "--project", "cli", "--format", "pairwise", "--margin",
                 "consensus", "--out", str(plain), stdout=StringIO())  # fmt: skip
    assert {p["margin"] for p in read_jsonl(plain)} == {1.0}
    with pytest.raises(CommandError):
        call_command("export_data", "--project", "cli", "--format", "pairwise", "--margin", "big")

"""Judging settings (mode, strength scale, gaps, dimensions, rationale) and the judgements
they allow, through the services."""

import pytest
from django.core.exceptions import ValidationError

from annotate.judgements import JudgementError
from annotate.models import AnnotationRevision
from annotate.services.annotations import annotation_update, ranking_submit
from annotate.services.project_admin import project_setup, project_update
from tests.factories import PromptFactory, annotator

pytestmark = pytest.mark.django_db

DIMENSIONS = [
    {"key": "helpfulness", "name": "Helpfulness", "instructions": "Does it **help**?"},
    {"key": "harmlessness", "name": "Harmlessness"},
    {"key": "honesty", "name": "Honesty"},
]


def pairwise_project(**settings):
    return project_setup(
        name="Pairs", judging_mode="pairwise_strength", strength_levels="helpsteer3", **settings
    )


def field_of(exc: ValidationError) -> str:
    return next(iter(exc.value.message_dict))


# --- settings --------------------------------------------------------------------------------


def test_presets_expand_and_settings_round_trip():
    project = pairwise_project(rationale="optional")
    assert project.strength_levels == ["slightly better", "better", "much better"]
    project = project_update(project=project, strength_levels="llama2")
    assert project.strength_levels[0] == "negligibly better" and len(project.strength_levels) == 4
    ranking = project_setup(name="Gaps", gap_levels="default", dimensions=DIMENSIONS)
    assert ranking.gap_levels == ["slightly", "clearly", "much"]
    assert [d["key"] for d in ranking.dimensions] == ["helpfulness", "harmlessness", "honesty"]
    assert ranking.dimensions[1]["instructions"] == ""


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"judging_mode": "pairwise_strength"}, "strength_levels"),
        ({"judging_mode": "pairwise_strength", "strength_levels": "llama2",
          "gap_levels": "default"}, "gap_levels"),
        ({"strength_levels": ["a", "b"]}, "strength_levels"),
        ({"strength_levels": "nine-point"}, "strength_levels"),
        ({"judging_mode": "pairwise_strength", "strength_levels": ["a", "a"]}, "strength_levels"),
        ({"judging_mode": "pairwise_strength", "strength_levels": list("abcdef")},
         "strength_levels"),
        ({"gap_levels": [""]}, "gap_levels"),
        ({"dimensions": [{"key": "Overall"}]}, "dimensions"),
        ({"dimensions": [{"key": "overall"}]}, "dimensions"),
        ({"dimensions": [{"key": "a"}, {"key": "a"}]}, "dimensions"),
        ({"dimensions": [{"key": "a", "colour": "red"}]}, "dimensions"),
        ({"rationale": "sometimes"}, "rationale"),
        ({"judging_mode": "triplets"}, "judging_mode"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_field(settings, field):
    with pytest.raises(ValidationError) as exc:
        project_setup(name="Bad", **settings)
    assert field_of(exc) == field


def test_switching_to_pairwise_needs_a_scale():
    project = project_setup(name="Ranks")
    with pytest.raises(ValidationError) as exc:
        project_update(project=project, judging_mode="pairwise_strength")
    assert field_of(exc) == "strength_levels"
    project_update(project=project, judging_mode="pairwise_strength", strength_levels="llama2")
    project.refresh_from_db()
    assert project.is_pairwise


# --- judgements ------------------------------------------------------------------------------


def submit(project, data, k=2, user=None):
    prompt = PromptFactory(project=project, k=k)
    return ranking_submit(
        project=project, prompt=prompt, user=user or annotator(project=project), data=data
    )


def test_pairwise_strength_and_tie_kinds_are_stored():
    project = pairwise_project()
    stored = submit(project, {"ranking": [["B"], ["A"]], "strength": 3})
    assert (stored.ranking, stored.strength, stored.tie_kind) == ([["B"], ["A"]], 3, "")
    tie = submit(project, {"ranking": [["A", "B"]], "tie_kind": "both_bad"})
    assert (tie.strength, tie.tie_kind) == (0, "both_bad")
    revision = AnnotationRevision.objects.filter(annotation=tie).get()
    assert revision.state["tie_kind"] == "both_bad" and revision.state["strength"] == 0


@pytest.mark.parametrize(
    ("data", "k", "field"),
    [
        ({"ranking": [["A"], ["B"]]}, 2, "strength"),
        ({"ranking": [["A"], ["B"]], "strength": 4}, 2, "strength"),
        ({"ranking": [["A"], ["B"]], "strength": True}, 2, "strength"),
        ({"ranking": [["A"], ["B"]], "strength": 1, "tie_kind": "both_good"}, 2, "tie_kind"),
        ({"ranking": [["A", "B"]], "strength": 2}, 2, "strength"),
        ({"ranking": [["A", "B"]], "tie_kind": "meh"}, 2, "tie_kind"),
        ({"ranking": [["A"], ["B"], ["C"]], "strength": 1}, 3, "ranking"),
        ({"ranking": [["A"], ["B"]], "strength": 1, "gaps": [1]}, 2, "gaps"),
        ({"ranking": [["A"], ["B"]], "strength": 1, "rationale": "why not"}, 2, "rationale"),
    ],
)  # fmt: skip
def test_bad_pairwise_judgements_name_the_field(data, k, field):
    project = pairwise_project()
    with pytest.raises(JudgementError) as exc:
        submit(project, data, k=k)
    assert exc.value.field == field


def test_rank_gaps_are_optional_and_checked():
    project = project_setup(name="Gaps", gap_levels="default")
    stored = submit(project, {"ranking": [["A"], ["B", "C"], ["D"]], "gaps": [3, None]}, k=4)
    assert stored.gaps == [3, None]
    assert submit(project, {"ranking": [["A"], ["B"]]}).gaps == []
    for gaps, message in (([1], "one gap per pair"), ([4, 1], "between 1 and 3")):
        with pytest.raises(JudgementError, match=message) as exc:
            submit(project, {"ranking": [["A"], ["B"], ["C"]], "gaps": gaps}, k=3)
        assert exc.value.field == "gaps"
    plain = project_setup(name="No gaps")
    with pytest.raises(JudgementError, match="marks no gaps"):
        submit(plain, {"ranking": [["A"], ["B"]], "gaps": [1]})
    with pytest.raises(JudgementError) as exc:
        submit(plain, {"ranking": [["A"], ["B"]], "strength": 1})
    assert exc.value.field == "strength"


def test_dimensions_each_need_a_choice():
    project = project_setup(name="Dims", dimensions=DIMENSIONS, rationale="required")
    choice = {"ranking": [["A"], ["B"]]}
    data = {
        "ranking": [["A"], ["B"]],
        "dimensions": {"helpfulness": choice, "harmlessness": {"ranking": [["B"], ["A"]]},
                       "honesty": {"ranking": [["A", "B"]]}},
        "rationale": "  A answers; B refuses safely.  ",
    }  # fmt: skip
    stored = submit(project, data)
    assert stored.dimensions["harmlessness"] == {
        "ranking": [["B"], ["A"]],
        "strength": None,
        "tie_kind": "",
        "gaps": [],
    }
    assert stored.rationale == "A answers; B refuses safely."
    problems = [
        ({**data, "rationale": " "}, "rationale"),
        ({**data, "dimensions": {"helpfulness": choice}}, "dimensions.harmlessness"),
        ({**data, "dimensions": {**data["dimensions"], "tone": choice}}, "dimensions.tone"),
        ({**data, "dimensions": {**data["dimensions"], "honesty": {"ranking": [["Z"]]}}},
         "dimensions.honesty.ranking"),
        ({**data, "dimensions": {**data["dimensions"], "honesty": "A"}}, "dimensions.honesty"),
    ]  # fmt: skip
    for bad, field in problems:
        with pytest.raises(JudgementError) as exc:
            submit(project, bad)
        assert exc.value.field == field


def test_pairwise_dimensions_carry_their_own_strength():
    project = pairwise_project(dimensions=DIMENSIONS[:2])
    data = {
        "ranking": [["A"], ["B"]], "strength": 1,
        "dimensions": {"helpfulness": {"ranking": [["A"], ["B"]], "strength": 3},
                       "harmlessness": {"ranking": [["A", "B"]], "tie_kind": "both_good"}},
    }  # fmt: skip
    stored = submit(project, data)
    assert stored.dimensions["helpfulness"]["strength"] == 3
    assert stored.dimensions["harmlessness"] == {
        "ranking": [["A", "B"]],
        "strength": 0,
        "tie_kind": "both_good",
        "gaps": [],
    }
    with pytest.raises(JudgementError) as exc:
        submit(
            project,
            {
                **data,
                "dimensions": {**data["dimensions"], "helpfulness": {"ranking": [["A"], ["B"]]}},
            },
        )
    assert exc.value.field == "dimensions.helpfulness.strength"


def test_an_edit_keeps_the_extras_and_a_skip_clears_them():
    project = pairwise_project(rationale="optional")
    user = annotator(project=project)
    stored = submit(project, {"ranking": [["A"], ["B"]], "strength": 2, "rationale": "A is right"},
                    user=user)  # fmt: skip
    stored = annotation_update(annotation=stored, user=user, data={"ranking": [["B"], ["A"]]})
    assert (stored.ranking, stored.strength, stored.rationale) == ([["B"], ["A"]], 2, "A is right")
    stored = annotation_update(
        annotation=stored, user=user, data={"skipped": True, "skip_reason": "unsure"}
    )
    assert (stored.strength, stored.rationale) == (None, "")

"""Adjudicating a judging project's extras: a pairwise project's strength and tie kind, rank
gaps and any dimension the reviewer decides, checked like an annotator's judgement (errors name
the field), over the service and the API."""

import pytest
from rest_framework.test import APIClient

from agreement.models import Adjudication
from agreement.services import prompt_adjudicate
from annotate.judgements import JudgementError
from annotate.models import Membership
from annotate.services.project_admin import project_setup
from core.roles import Roles
from tests.factories import PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

DIMENSIONS = [{"key": "helpfulness"}, {"key": "harmlessness"}]


def setup(**settings):
    project = project_setup(name="Adj", slug="adj", dimensions=DIMENSIONS, **settings)
    reviewer = UserFactory(username="rev", roles=[Roles.REVIEWER])
    Membership.objects.create(project=project, user=reviewer)
    return project, reviewer


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({}, "strength"),  # a pairwise win says how much
        ({"strength": 9}, "strength"),
        ({"strength": 2, "tie_kind": "both_good"}, "tie_kind"),  # only ties have a kind
        ({"strength": 2, "dimensions": {"honesty": {"ranking": [["A"], ["B"]]}}},
         "dimensions.honesty"),
        ({"strength": 2, "dimensions": {"helpfulness": {"ranking": [["A"], ["B"]]}}},
         "dimensions.helpfulness.strength"),
        ({"strength": 2, "dimensions": {"harmlessness": {"ranking": [["A"]], "strength": 0}}},
         "dimensions.harmlessness.ranking"),
    ],
)  # fmt: skip
def test_bad_pairwise_adjudications_name_the_field(extra, field):
    project, reviewer = setup(judging_mode="pairwise_strength", strength_levels="llama2")
    prompt = PromptFactory(project=project, k=2)
    with pytest.raises(JudgementError) as exc:
        prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=[["B"], ["A"]], **extra)
    assert exc.value.field == field
    assert not Adjudication.objects.exists()


def test_pairwise_adjudication_keeps_strength_tie_kind_and_some_dimensions():
    project, reviewer = setup(judging_mode="pairwise_strength", strength_levels="llama2")
    prompt = PromptFactory(project=project, k=2)
    tie = {"ranking": [["A", "B"]], "tie_kind": "both_bad"}
    made = prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=[["A", "B"]],
                             tie_kind="both_good", dimensions={"harmlessness": tie})  # fmt: skip
    assert (made.strength, made.tie_kind) == (0, "both_good")
    assert made.dimensions == {"harmlessness": {"ranking": [["A", "B"]], "strength": 0,
                                                "tie_kind": "both_bad", "gaps": []}}  # fmt: skip


def test_ranking_project_adjudicates_gaps_and_stays_as_before_without_extras():
    project, reviewer = setup(gap_levels="default")
    prompt = PromptFactory(project=project, k=3)
    plain = prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=[["C"], ["A"], ["B"]])
    assert (plain.strength, plain.tie_kind, plain.gaps, plain.dimensions) == (None, "", [], {})
    gapped = prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=[["C"], ["A"], ["B"]],
                               gaps=[3, None])  # fmt: skip
    assert gapped.gaps == [3, None]
    with pytest.raises(JudgementError) as exc:
        prompt_adjudicate(prompt=prompt, reviewer=reviewer, ranking=[["C"], ["A"], ["B"]],
                          strength=2)  # fmt: skip
    assert exc.value.field == "strength"


def test_adjudicate_over_the_api():
    project, reviewer = setup(judging_mode="pairwise_strength", strength_levels="helpsteer3")
    prompt = PromptFactory(project=project, k=2)
    client = APIClient()
    client.force_authenticate(reviewer)
    url = f"/api/v1/projects/{project.slug}/prompts/{prompt.pk}/adjudicate/"
    body = {"ranking": [["B"], ["A"]], "strength": 3, "comment": "clearly",
            "dimensions": {"helpfulness": {"ranking": [["B"], ["A"]], "strength": 1}}}  # fmt: skip
    made = client.post(url, body, format="json")
    assert made.status_code == 201, made.content
    data = made.json()
    assert (data["strength"], data["tie_kind"]) == (3, "")
    assert data["dimensions"]["helpfulness"]["strength"] == 1
    refused = client.post(url, {"ranking": [["B"], ["A"]]}, format="json")
    assert refused.status_code == 400 and "strength" in refused.json()["fields"]
    assert Adjudication.objects.count() == 1

"""Judging settings and the new judgement fields over /api/v1 (DRF client), the agreement
report command and the dashboard's strength and dimensions table."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from agreement.services import project_agreement_recompute
from annotate.models import Annotation
from annotate.services.annotations import ranking_submit
from annotate.services.project_admin import project_setup
from core.roles import Roles
from tests.factories import PromptFactory, UserFactory, annotator

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = APIClient()
    client.force_authenticate(UserFactory(roles=[Roles.ADMIN], is_staff=True))
    return client


def test_project_judging_settings_over_the_api(admin_client):
    created = admin_client.post(
        reverse("api:project-list"),
        {"name": "Pairs", "judging_mode": "pairwise_strength", "strength_levels": "llama2",
         "dimensions": [{"key": "helpfulness", "name": "Helpfulness"}], "rationale": "required"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["strength_levels"][-1] == "significantly better"
    assert body["dimensions"] == [{"key": "helpfulness", "name": "Helpfulness", "instructions": ""}]
    url = reverse("api:project-detail", args=[body["slug"]])
    for change, field in (
        ({"strength_levels": []}, "strength_levels"),
        ({"gap_levels": "default"}, "gap_levels"),
        ({"dimensions": [{"key": "no spaces"}]}, "dimensions"),
        ({"rationale": "always"}, "rationale"),
        ({"judging_mode": "stars"}, "judging_mode"),
    ):
        response = admin_client.patch(url, change, format="json")
        assert response.status_code == 400, (change, response.content)
        assert field in response.json()["fields"], response.json()
    changed = admin_client.patch(url, {"strength_levels": ["better", "much better"]}, format="json")
    assert changed.status_code == 200 and changed.json()["strength_levels"] == [
        "better",
        "much better",
    ]


def test_submit_with_strength_and_dimensions_over_the_api():
    project = project_setup(
        name="API pairs", slug="api-pairs", judging_mode="pairwise_strength",
        strength_levels="helpsteer3", dimensions=[{"key": "honesty"}], rationale="optional",
    )  # fmt: skip
    user = annotator(project=project)
    client = APIClient()
    client.force_authenticate(user)
    prompt = PromptFactory(project=project, k=2)
    url = reverse("api:task-submit", args=[project.slug, prompt.pk])
    bad = client.post(url, {"ranking": [["B"], ["A"]], "dimensions": {"honesty": {
        "ranking": [["A", "B"]], "tie_kind": "both_good"}}}, format="json")  # fmt: skip
    assert bad.status_code == 400 and "strength" in bad.json()["fields"], bad.json()
    bad = client.post(url, {"ranking": [["B"], ["A"]], "strength": 2, "dimensions": {"honesty": {
        "ranking": [["A"], ["B"]]}}}, format="json")  # fmt: skip
    assert bad.status_code == 400 and "dimensions.honesty.strength" in bad.json()["fields"]
    good = client.post(url, {"ranking": [["B"], ["A"]], "strength": 2, "rationale": "B cites",
                             "dimensions": {"honesty": {"ranking": [["A", "B"]],
                                                        "tie_kind": "both_good"}}},
                       format="json")  # fmt: skip
    assert good.status_code == 201, good.content
    body = good.json()
    assert (body["strength"], body["tie_kind"], body["rationale"]) == (2, "", "B cites")
    assert body["dimensions"]["honesty"]["tie_kind"] == "both_good"
    mine = reverse("api:my-annotation", args=[project.slug, body["id"]])
    patched = client.patch(mine, {"strength": 3}, format="json")
    assert patched.status_code == 200 and Annotation.objects.get().strength == 3


def test_report_and_dashboard_show_strength_and_dimension_agreement(client):
    project = project_setup(
        name="Report pairs", slug="report-pairs", judging_mode="pairwise_strength",
        strength_levels="helpsteer3", dimensions=[{"key": "honesty", "name": "Honesty"}],
    )  # fmt: skip
    judges = [annotator(f"judge{i}", project) for i in range(2)]
    # Scores a (-3, 1) and b (-2, 2): same sides, different magnitudes.
    for prompt_scores in ((-3, -2), (1, 2)):
        prompt = PromptFactory(project=project, k=2)
        for user, score in zip(judges, prompt_scores, strict=True):
            ranking = [["A"], ["B"]] if score < 0 else [["B"], ["A"]]
            honesty = {"ranking": [["A", "B"]], "tie_kind": "both_good"}
            ranking_submit(project=project, prompt=prompt, user=user,
                           data={"ranking": ranking, "strength": abs(score),
                                 "dimensions": {"honesty": honesty}})  # fmt: skip
    project_agreement_recompute(project=project, bootstrap=0)
    out = StringIO()
    call_command("agreement_report", "--project", project.slug, "--json", stdout=out)
    judging = json.loads(out.getvalue())["judging"]
    assert judging["strength"]["direction_agreement"] == 1.0
    assert judging["strength"]["exact_agreement"] == 0.0
    honesty = judging["dimensions"]["honesty"]
    assert honesty["strength"]["tie_confusion"] == {"both_good/both_good": 2}
    assert honesty["vs_overall"]["disagrees_with_overall"] == 1.0  # every overall had a winner
    table = StringIO()
    call_command("agreement_report", "--project", project.slug, stdout=table)
    assert "Strength and dimensions" in table.getvalue() and "Honesty" in table.getvalue()

    reviewer = UserFactory(roles=[Roles.REVIEWER])
    project.memberships.create(user=reviewer)
    client.force_login(reviewer)
    html = client.get(reverse("agreement:dashboard", args=[project.slug])).content.decode()
    assert 'id="judging"' in html and 'data-judging="honesty"' in html

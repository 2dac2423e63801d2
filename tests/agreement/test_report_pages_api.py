"""The report command, the dashboard and review pages, and the REST endpoint."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from agreement.models import Adjudication, ProjectAgreement
from agreement.services import project_agreement_recompute
from annotate.models import Membership, Prompt
from annotate.services.imports import prompts_import
from core.roles import Roles
from tests.agreement.conftest import rankwise_bytes
from tests.factories import ProjectFactory, UserFactory, annotator

pytestmark = pytest.mark.django_db

REQUIRED_KEYS = {
    "pairwise_agreement",
    "pairwise_agreement_with_ties",
    "tie_rate",
    "kendall_w_mean",
    "krippendorff_alpha",
    "confidence_intervals",
    "annotators",
}


def report_json(*args) -> dict:
    out = StringIO()
    call_command("agreement_report", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_report_command_json_keys(imported_project):
    report = report_json("--project", "multi", "--recompute", "--bootstrap", "30")
    assert set(report) >= REQUIRED_KEYS
    assert set(report["krippendorff_alpha"]) >= {"ratings", "ranking", "flags"}
    assert set(report["krippendorff_alpha"]["ratings"]) == {"ordinal", "interval"}
    assert [a["annotator"] for a in report["annotators"]] == ["ann1", "ann2", "ann3"]
    assert report["meta"]["stored"] is True
    assert (
        ProjectAgreement.objects.get(project=imported_project).report["bootstrap"]["replicates"]
        == 30
    )


def test_single_annotator_statistics_are_null_with_a_reason():
    # Like the Open-Assistant sample: one (consensus) judgement per prompt.
    project = ProjectFactory(slug="solo")
    lines = [
        {"id": f"s{i}", "prompt": f"q{i}", "completions": ["x", "y", "z"],
         "annotations": [{"annotator": "only", "ranking": [["0"], ["1", "2"]]}]}
        for i in range(3)
    ]  # fmt: skip
    prompts_import(project=project, source=rankwise_bytes(lines))
    report = report_json("--project", "solo")
    for key in ("pairwise_agreement", "pairwise_agreement_with_ties", "kendall_w_mean"):
        assert report[key] is None
        assert isinstance(report["reasons"][key], str) and report["reasons"][key]
    assert report["krippendorff_alpha"]["ranking"] is None
    assert report["reasons"]["krippendorff_alpha.ranking"]
    assert report["confidence_intervals"]["pairwise_agreement"] is None
    assert report["reasons"]["confidence_intervals.pairwise_agreement"]
    # A statistic that is defined with one annotator is still reported: 3 ties in 9 answers.
    assert report["tie_rate"] == pytest.approx(3 / 9)
    assert report["annotators"][0]["pairwise_agreement"] is None


def test_report_command_table_and_unknown_project(imported_project):
    out = StringIO()
    call_command("agreement_report", "--project", "multi", stdout=out)
    text = out.getvalue()
    assert "pairwise_agreement" in text and "0.423" in text
    assert "ann3" in text and "not stored" in text
    with pytest.raises(CommandError, match="no project"):
        call_command("agreement_report", "--project", "nope")


def login(client, user):
    # UserFactory does not save the password it sets, so the in-memory user's session hash
    # would not match the stored one: log in the stored user.
    client.force_login(type(user).objects.get(pk=user.pk))


@pytest.fixture
def people(imported_project):
    reviewer = UserFactory(username="rev", roles=[Roles.REVIEWER])
    Membership.objects.create(project=imported_project, user=reviewer)
    mle = UserFactory(username="mle", roles=[Roles.ML_ENGINEER])
    Membership.objects.create(project=imported_project, user=mle)
    return {"reviewer": reviewer, "mle": mle, "annotator": annotator("ann-x", imported_project)}


def test_dashboard_and_review_pages_are_for_reviewers(client, imported_project, people):
    project_agreement_recompute(project=imported_project, bootstrap=20)
    url = reverse("agreement:dashboard", args=["multi"])
    # A member without the reviewer role: 403, as from the API (a non-member would get 404).
    login(client, people["annotator"])
    assert client.get(url).status_code == 403
    assert client.get(reverse("agreement:review-queue", args=["multi"])).status_code == 403
    login(client, people["reviewer"])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="agreement-report"' in html and "chart-heatmap" in html
    assert "0.423" in html  # the headline pairwise agreement
    assert "Review queue (2)" in html  # p1 (5/9) and p2 (5/16) are below 0.6
    # The date and the time apart ("2026-12-06 17:45 UTC", not "2026-12-0617:45:07 UTC").
    import re

    assert re.search(r"Computed \d{4}-\d\d-\d\d \d\d:\d\d UTC", html), html[:2000]


def test_review_page_shows_everyone_and_records_an_adjudication(client, imported_project, people):
    project_agreement_recompute(project=imported_project, bootstrap=0)
    p2 = Prompt.objects.get(project=imported_project, external_id="p2")
    login(client, people["reviewer"])
    queue = client.get(reverse("agreement:review-queue", args=["multi"])).content.decode()
    assert f'data-prompt="{p2.pk}"' in queue
    url = reverse("agreement:review-prompt", args=["multi", p2.pk])
    html = client.get(url).content.decode()
    for name in ("ann1", "ann2", "ann3"):
        assert name in html
    assert "api/v1/projects/multi/prompts/" in html  # the widget posts to the API
    api = reverse("api:prompt-adjudicate", args=["multi", p2.pk])
    bad = client.post(api, {"ranking": [["A", "B"], ["D"]]}, content_type="application/json")
    assert bad.status_code == 400 and "ranking" in bad.json()["fields"]
    assert not Adjudication.objects.exists()
    done = client.post(api, {"ranking": [["A", "B"], ["C"], ["D"]], "comment": "ok"},
                       content_type="application/json")  # fmt: skip
    assert done.status_code == 201, done.content
    adj = Adjudication.objects.get()
    assert adj.ranking == [["A", "B"], ["C"], ["D"]] and adj.reviewer == people["reviewer"]
    queue = client.get(reverse("agreement:review-queue", args=["multi"])).content.decode()
    assert f'data-prompt="{p2.pk}"' not in queue


def test_api_report_roles_and_pseudonyms(imported_project, people):
    project_agreement_recompute(project=imported_project, bootstrap=20)
    url = "/api/v1/projects/multi/agreement/"
    api = APIClient()
    assert api.get(url).status_code in (401, 403)
    api.force_authenticate(people["annotator"])
    assert api.get(url).status_code == 403
    api.force_authenticate(people["reviewer"])
    body = api.get(url).json()
    assert set(body) >= REQUIRED_KEYS
    assert body["pairwise_agreement"] == pytest.approx(11 / 26)
    assert {a["annotator"] for a in body["annotators"]} == {"ann1", "ann2", "ann3"}
    api.force_authenticate(people["mle"])
    body = api.get(url).json()
    assert {a["annotator"] for a in body["annotators"]} == {
        "annotator-1",
        "annotator-2",
        "annotator-3",
    }
    assert "ann1" not in json.dumps(body["annotator_pairs"])
    outsider = UserFactory(username="out", roles=[Roles.REVIEWER])
    api.force_authenticate(outsider)
    assert api.get(url).status_code == 404
    api.force_authenticate(people["reviewer"])
    assert api.post(url + "recompute/").status_code == 202

"""The agreement endpoints' and pages' rows of the permission matrix
(``tests/api/permission_matrix.py`` appends them to its ENDPOINTS; tests/api runs them for every
principal against its World).

Reviewers read the report with annotator names, ML engineers with pseudonyms (API only: the
dashboard page names annotators, so it is the reviewers'); reviewers (and admins) may queue a
recompute, which the matrix's transaction never runs (it is on commit), and review.
"""

from __future__ import annotations

from tests.api.permission_matrix import Endpoint, url

P = "/api/v1/projects/{w.project.slug}/"


def names_hidden_from_ml_engineers(response, world, who):
    from annotate.models import Annotation

    if response.status_code != 200:
        return
    real = set(
        Annotation.objects.filter(prompt__project=world.project).values_list(
            "annotator__username", flat=True
        )
    )
    names = {a["annotator"] for a in response.json()["annotators"]}
    assert real, "the world has no judgements to report on"
    if who == "ml_engineer":
        assert names == {f"annotator-{i}" for i in range(1, len(real) + 1)}, names
        assert not any(f'"{name}"' in response.content.decode() for name in real)
    else:
        assert names == real


PAGE = "/projects/{w.project.slug}/"
REVIEW = frozenset({"reviewer"})

AGREEMENT_ENDPOINTS = [
    Endpoint("agreement report", "get", url(P + "agreement/"), frozenset({"reviewer", "ml_engineer"}),
             extra_checks=(names_hidden_from_ml_engineers,)),
    Endpoint("agreement recompute", "post", url(P + "agreement/recompute/"), REVIEW, ok=202),
    Endpoint("dashboard page", "get", url(PAGE + "agreement/"), REVIEW, surface="page"),
    Endpoint("page: recompute", "post", url(PAGE + "agreement/recompute/"), REVIEW, ok=302,
             surface="page"),
    Endpoint("review queue page", "get", url(PAGE + "review/"), REVIEW, surface="page"),
    Endpoint("review sheet page", "get", url(PAGE + "review/{w.prompt.pk}/"), REVIEW,
             surface="page"),
    # the review page's adjudication widget posts here (session + CSRF)
    Endpoint("adjudicate", "post", url(P + "prompts/{w.prompt.pk}/adjudicate/"), REVIEW, ok=201,
             body=lambda w: {"ranking": [["A"], ["B", "C"]], "comment": ""}),
]  # fmt: skip

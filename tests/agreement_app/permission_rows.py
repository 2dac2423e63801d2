"""The agreement endpoints' rows of the API permission matrix (``tests/api/permission_matrix.py``
appends them to its ENDPOINTS; tests/api runs them for every role against its World).

Reviewers read the report with annotator names, ML engineers with pseudonyms; reviewers (and
admins) may queue a recompute, which the matrix's transaction never runs (it is on commit).
"""

from __future__ import annotations

from tests.api.permission_matrix import Endpoint, url

P = "/api/v1/projects/{w.project.slug}/"


def names_hidden_from_ml_engineers(response, world, role):
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
    if role == "ml_engineer":
        assert names == {f"annotator-{i}" for i in range(1, len(real) + 1)}, names
        assert not any(f'"{name}"' in response.content.decode() for name in real)
    else:
        assert names == real


AGREEMENT_ENDPOINTS = [
    Endpoint("agreement report", "get", url(P + "agreement/"), frozenset({"reviewer", "ml_engineer"}),
             extra_checks=(names_hidden_from_ml_engineers,)),
    Endpoint("agreement recompute", "post", url(P + "agreement/recompute/"),
             frozenset({"reviewer"}), ok=202),
]  # fmt: skip

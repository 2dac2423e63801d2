"""From a multi-annotator rankwise import to the stored report, checked by hand."""

from itertools import combinations

import pytest

from agreement.models import AnnotatorScore, ProjectAgreement, PromptConsensus
from agreement.selectors import project_report_get, prompt_consensus_map
from agreement.services import project_agreement_recompute
from annotate.models import Prompt
from tests.agreement.conftest import LINES

pytestmark = pytest.mark.django_db


def independent_pairwise_agreement(lines):
    """Brute force over (prompt, two annotators, two completions both ordered strictly)."""
    agree = total = agree_ties = total_ties = 0
    for line in lines:
        positions = [
            {cid: g for g, group in enumerate(a["ranking"]) for cid in group}
            for a in line["annotations"]
            if not a.get("skipped")
        ]
        ids = [c["id"] for c in line["completions"]]
        for p, q in combinations(positions, 2):
            for x, y in combinations(ids, 2):
                sp = (p[x] > p[y]) - (p[x] < p[y])
                sq = (q[x] > q[y]) - (q[x] < q[y])
                total_ties += 1
                agree_ties += sp == sq
                if sp and sq:
                    total += 1
                    agree += sp == sq
    return agree / total, agree_ties / total_ties


def test_import_to_report_matches_hand_computation(imported_project):
    stored = project_agreement_recompute(project=imported_project, bootstrap=50)
    report = stored.report

    # By hand (see the rankings in conftest.LINES): p1 agrees on 2+2+1 of 9 strict pairs,
    # p2 on 5 of 16 (ann3 reversed everything; ann1's A=B tie leaves 5 strict pairs with ann2),
    # p3 on 1 of 1, p4 has a single annotator: 11 / 26.
    assert report["pairwise_agreement"] == pytest.approx(11 / 26)
    # With ties as answers: p2 has 6 + 6 + 6 pairs of which ann1/ann2 share 5: 11 / 28.
    assert report["pairwise_agreement_with_ties"] == pytest.approx(11 / 28)
    # One tied pair (ann1's A=B on p2) among 9 + 18 + 2 + 3 ranked (judgement, pair) answers.
    assert report["tie_rate"] == pytest.approx(1 / 32)
    brute, brute_ties = independent_pairwise_agreement(LINES)
    assert report["pairwise_agreement"] == pytest.approx(brute)
    assert report["pairwise_agreement_with_ties"] == pytest.approx(brute_ties)

    names = {a["annotator"] for a in report["annotators"]}
    assert names == {"ann1", "ann2", "ann3"}
    ann3 = next(a for a in report["annotators"] if a["annotator"] == "ann3")
    assert ann3["skipped"] == 1
    # ann3 reversed p2 and disagreed most on p1, so it gets the smallest consensus weight.
    weights = dict(
        AnnotatorScore.objects.filter(project=imported_project).values_list(
            "annotator__username", "weight"
        )
    )
    assert weights["ann3"] < weights["ann1"] and weights["ann3"] < weights["ann2"]
    assert report["krippendorff_alpha"]["ratings"]["ordinal"] is not None
    assert "fails_instruction" in report["krippendorff_alpha"]["flags"]
    assert report["confidence_intervals"]["pairwise_agreement"] is not None

    # Consensus stored for every prompt somebody ranked; p4's is its one ranking.
    by_ext = {p.external_id: p.pk for p in Prompt.objects.filter(project=imported_project)}
    assert PromptConsensus.objects.filter(project=imported_project).count() == 4
    consensus = prompt_consensus_map(project=imported_project)
    assert consensus[by_ext["p4"]]["ranking"] == [["C"], ["B"], ["A"]]
    assert consensus[by_ext["p4"]]["agreement"] is None
    assert consensus[by_ext["p3"]]["agreement"] == 1.0
    assert consensus[by_ext["p3"]]["pair_probs"]["A>B"] > 0.5
    p2 = consensus[by_ext["p2"]]
    assert p2["agreement"] == pytest.approx(5 / 16)
    assert p2["adjudicated"] is False
    assert p2["pair_probs"]["A>B"] + p2["pair_probs"]["B>A"] == pytest.approx(1.0, abs=1e-4)

    got = project_report_get(project=imported_project)
    assert got["meta"]["stored"] is True and got["meta"]["stale"] is False
    assert got["pairwise_agreement"] == report["pairwise_agreement"]


def test_report_without_stored_row_is_computed_on_the_fly(imported_project):
    got = project_report_get(project=imported_project)
    assert got["meta"]["stored"] is False
    assert got["pairwise_agreement"] == pytest.approx(11 / 26)
    assert not ProjectAgreement.objects.filter(project=imported_project).exists()

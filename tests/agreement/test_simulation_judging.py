"""Simulated annotators (the demo's) judge strength and dimensions where a project asks."""

import pytest

from agreement.selectors import project_report_get
from agreement.services import project_agreement_recompute
from agreement.simulation import annotations_simulate
from annotate.models import Annotation
from annotate.services.demo import _pairs_demo

pytestmark = pytest.mark.django_db


def test_simulated_judgements_of_the_pairs_demo_carry_strength_and_dimensions():
    project, _ = _pairs_demo()
    result = annotations_simulate(project=project, annotators=3, per_prompt=3, skip_rate=0)
    assert result.annotations_created == 9
    judged = Annotation.objects.filter(prompt__project=project)
    for a in judged:
        assert set(a.dimensions) == {"helpfulness", "harmlessness", "honesty"}
        if len(a.ranking) == 1:
            assert a.strength == 0 and a.tie_kind in ("both_good", "both_bad")
        else:
            assert 1 <= a.strength <= 3
    project_agreement_recompute(project=project, bootstrap=0)
    judging = project_report_get(project=project)["judging"]
    assert judging["strength"]["judgements"] == 9
    assert set(judging["dimensions"]) == {"helpfulness", "harmlessness", "honesty"}

"""Issue 15's export mends: every error of the export form at once; simulated judgements left
out unless asked for; a snapshot's title names its project."""

import pytest
from django.urls import reverse

from agreement.simulation import annotations_simulate
from annotate.models import Annotation
from exports.models import DatasetSnapshot
from tests.exports.conftest import import_lines
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_the_export_form_reports_every_error_at_once(admin_client):
    project = ProjectFactory(name="Parrots")
    form = {
        "project": project.pk, "format": "pairwise", "mode": "all", "ties": "drop", "seed": 0,
        "train": 0.5, "validation": 0.1, "test": 0.1,  # does not add up to 1
        "annotated_from": "not a date", "exclude_flags": "no-such-flag",
    }  # fmt: skip
    response = admin_client.post(reverse("admin:exports_new"), form)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"annotated_from", "train", "exclude_flags"}, errors
    assert "add up to 1" in errors["train"][0]
    assert not DatasetSnapshot.objects.exists()


def test_simulated_judgements_are_labelled_and_left_out_unless_asked(build):
    project = ProjectFactory(slug="sim", overlap=2)
    lines = [
        {"id": f"p{i}", "prompt": f"prompt {i}", "completions": ["a", "b", "c"],
         "annotations": [{"annotator": "real", "ranking": [["0"], ["1"], ["2"]]}] if i == 0
         else []}
        for i in range(4)
    ]  # fmt: skip
    import_lines(project, lines)
    annotations_simulate(project=project, annotators=3, per_prompt=2, seed=1, skip_rate=0)
    simulated = Annotation.objects.filter(source=Annotation.Source.SIMULATED)
    assert simulated.count() == 8
    assert set(simulated.values_list("annotator__username", flat=True)) <= {
        "sim-1", "sim-2", "sim-3",
    }  # fmt: skip

    default = build(project, mode="all")
    assert default.settings["include_simulated"] is False
    assert default.row_counts["excluded_prompts"].get("only_simulated_judgements") == 3
    asked = build(project, mode="all", include_simulated=True)
    assert asked.rows_written > default.rows_written > 0
    assert "Snapshot #" in str(default) and "of project" in str(default)
    assert str(default.pk) in str(default)

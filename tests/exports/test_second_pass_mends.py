"""Issue 15's export mends: every error of the export form at once; simulated judgements left
out unless asked for; a snapshot's title names its project."""

import pytest
from django.urls import reverse

from agreement.models import PromptConsensus
from agreement.services import project_agreement_recompute
from agreement.simulation import annotations_simulate
from annotate.models import Annotation
from exports.models import DatasetSnapshot
from tests.exports.conftest import import_lines, read_jsonl
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


@pytest.mark.parametrize("stored", [False, True], ids=["fallback", "stored-consensus"])
def test_consensus_mode_leaves_simulated_judgements_out_of_mixed_prompts(build, stored):
    """One person ranks A > B > C; two simulated annotators rank C > B > A on the same prompt.
    Their majority must not become the exported consensus, nor its margins, unless asked for."""
    project = ProjectFactory(slug="mixed", overlap=3)
    import_lines(project, [{
        "id": "p0", "prompt": "Which is best?",
        "completions": [{"id": c, "text": f"answer {c}"} for c in "ABC"],
        "annotations": [
            {"annotator": "person", "ranking": [["A"], ["B"], ["C"]]},
            {"annotator": "sim-1", "ranking": [["C"], ["B"], ["A"]]},
            {"annotator": "sim-2", "ranking": [["C"], ["B"], ["A"]]},
        ],
    }])  # fmt: skip
    Annotation.objects.filter(annotator__username__startswith="sim-").update(
        source=Annotation.Source.SIMULATED
    )
    if stored:
        project_agreement_recompute(project=project, bootstrap=10)
        assert PromptConsensus.objects.filter(prompt__project=project).exists()

    pairs = read_jsonl(build(project, "pairwise", mode="consensus").path)
    assert {(r["chosen"], r["rejected"]) for r in pairs} == {
        ("answer A", "answer B"), ("answer A", "answer C"), ("answer B", "answer C"),
    }  # fmt: skip
    assert all(r["margin"] == 1.0 for r in pairs), pairs
    line = read_jsonl(build(project, "rankings", mode="consensus").path)[0]
    assert line["consensus"]["ranking"] == [["A"], ["B"], ["C"]]
    assert [a["annotator"] for a in line["annotations"]] == ["person"]

    asked = read_jsonl(build(project, "pairwise", mode="consensus", include_simulated=True).path)
    assert ("answer C", "answer A") in {(r["chosen"], r["rejected"]) for r in asked}

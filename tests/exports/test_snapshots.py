"""Snapshots as objects: splits, reproducibility, integrity, failure, bounded reads, the command."""

import json
from collections import defaultdict
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotate.models import Annotation, Prompt
from exports.models import DatasetSnapshot
from exports.options import ExportOptionsError, clean_options
from exports.services import snapshot_build, snapshot_create, snapshot_recreate, snapshot_verify
from exports.splits import split_for
from tests.exports.conftest import import_lines, read_jsonl
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def many_prompts(n=120, annotators=("ann-a", "ann-b", "ann-c")):
    lines = []
    for i in range(n):
        rankings = [[["A"], ["B"], ["C"]], [["B"], ["A"], ["C"]], [["A"], ["C"], ["B"]]]
        lines.append({
            "id": f"q{i:04d}",
            "prompt": f"question {i}",
            "completions": ["first", "second", "third"],
            "annotations": [
                {"annotator": name, "ranking": [[str("ABC".index(c)) for c in g] for g in r]}
                for name, r in zip(annotators[: 1 + i % 3], rankings, strict=False)
            ],
        })  # fmt: skip
    return lines


@pytest.fixture
def project():
    project = ProjectFactory()
    import_lines(project, many_prompts())
    return project


def test_no_prompt_in_two_splits_and_split_is_a_function_of_the_prompt(project, build):
    split = {"train": 0.6, "validation": 0.2, "test": 0.2}
    rows = read_jsonl(build(project, "pairwise", seed=7, split=split).path)
    splits_of = defaultdict(set)
    for row in rows:
        splits_of[row["prompt_id"]].add(row["split"])
    assert all(len(s) == 1 for s in splits_of.values())
    assert {next(iter(s)) for s in splits_of.values()} == {"train", "validation", "test"}
    # The split depends on seed and prompt id only: a filtered export agrees with the full one,
    # and so do the rankings lines.
    consensus = read_jsonl(build(project, "pairwise", seed=7, split=split, mode="consensus").path)
    assert all(r["split"] in splits_of[r["prompt_id"]] for r in consensus)
    for line in read_jsonl(build(project, "rankings", seed=7, split=split).path):
        assert line["split"] == split_for(7, line["id"], split)
    other_seed = read_jsonl(build(project, "pairwise", seed=8, split=split).path)
    assert any(r["split"] not in splits_of[r["prompt_id"]] for r in other_seed)


def test_holdout_annotator_goes_to_test_without_leaking(project, build):
    rows = read_jsonl(build(project, "pairwise", holdout_annotators=["ann-c"]).path)
    test_prompts = {r["prompt_id"] for r in rows if r["split"] == "test"}
    assert all(r["split"] == "test" for r in rows if r["annotator"] == "ann-c")
    assert not any(r["split"] != "test" and r["prompt_id"] in test_prompts for r in rows)
    assert {r["annotator"] for r in rows if r["split"] == "train"} == {"ann-a", "ann-b"}


def test_same_data_and_settings_same_sha256(project, build):
    first = build(project, "pairwise", seed=3, ties="keep")
    second = build(project, "pairwise", seed=3, ties="keep")
    assert first.pk != second.pk and first.path != second.path
    assert first.sha256 == second.sha256 and len(first.sha256) == 64
    assert first.row_counts == second.row_counts
    assert build(project, "pairwise", seed=4, ties="keep").sha256 != first.sha256
    # A new judgement is new data: a different hash.
    prompt = Prompt.objects.get(project=project, external_id="q0000")
    late = get_user_model().objects.create(username="late")
    Annotation.objects.create(prompt=prompt, annotator=late, ranking=[["2"], ["1"], ["0"]])
    assert build(project, "pairwise", seed=3, ties="keep").sha256 != first.sha256


def test_snapshot_records_what_made_it(project, build, admin_user):
    snapshot = build(project, "pairwise", user=admin_user, min_agreement=0.1)
    assert snapshot.settings["min_agreement"] == 0.1
    assert snapshot.settings["split"] == {"train": 0.9, "validation": 0.05, "test": 0.05}
    assert snapshot.code_version
    assert snapshot.created_by == admin_user
    assert snapshot.progress == 1.0 and snapshot.prompts_done == snapshot.prompts_total == 120
    assert snapshot.rows_written == snapshot.row_counts["rows"] > 0
    card = json.loads((snapshot.folder / "snapshot.json").read_text())
    assert card["sha256"] == snapshot.sha256 and card["settings"] == snapshot.settings
    sums = (snapshot.folder / "SHA256SUMS").read_text().split()
    assert sums == [snapshot.sha256, "pairs.jsonl"]
    assert snapshot_verify(snapshot=snapshot) == []

    with open(snapshot.path, "ab") as fh:
        fh.write(b"\n")
    assert snapshot_verify(snapshot=snapshot) == [
        "pairs.jsonl: SHA-256 differs from the one recorded"
    ]

    again = snapshot_recreate(snapshot=snapshot)
    assert again.settings == snapshot.settings and again.status == DatasetSnapshot.Status.PENDING


def test_failed_build_is_recorded_and_leaves_no_files(project, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the artifacts folder should be")
    settings.ARTIFACTS_DIR = blocker
    snapshot = snapshot_create(project=project, fmt="pairwise", enqueue=False)
    snapshot = snapshot_build(snapshot=snapshot)
    assert snapshot.status == DatasetSnapshot.Status.FAILED
    assert "Error" in snapshot.error and snapshot.sha256 == ""
    # a second delivery of the task does nothing
    assert snapshot_build(snapshot=snapshot).status == DatasetSnapshot.Status.FAILED


def test_a_build_abandoned_by_a_dead_worker_is_taken_over(project, settings):
    settings.TASK_STALE_SECONDS = 300
    snapshot = snapshot_create(project=project, fmt="rankings", enqueue=False)
    now = timezone.now()
    rows = DatasetSnapshot.objects.filter(pk=snapshot.pk)
    # Started long ago but still heartbeating: a long build at work, leave it.
    rows.update(status="running", started_at=now - timedelta(hours=2),
                heartbeat_at=now - timedelta(minutes=1), attempts=1)  # fmt: skip
    assert snapshot_build(snapshot=snapshot).status == "running"
    rows.update(heartbeat_at=now - timedelta(minutes=6))  # its worker died
    built = snapshot_build(snapshot=snapshot)
    assert built.status == "ready" and built.attempts == 2


def test_queries_grow_with_chunks_not_prompts(project):
    def queries(chunk_size):
        snapshot = snapshot_create(project=project, fmt="pairwise", enqueue=False)
        with CaptureQueriesContext(connection) as captured:
            snapshot_build(snapshot=snapshot, chunk_size=chunk_size)
        snapshot.refresh_from_db()
        assert snapshot.status == DatasetSnapshot.Status.READY
        return len(captured)

    few, many = queries(60), queries(10)  # 120 prompts: 2 chunks, then 12 chunks
    per_chunk = (many - few) / 10
    assert per_chunk <= 6  # completions, judgements, consensus, adjudications, progress
    assert few < 30  # a fixed handful plus the chunks, nowhere near one per prompt


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"mode": "best"}, "mode"),
        ({"min_agreement": 1.5}, "min_agreement"),
        ({"min_agreement": "high"}, "min_agreement"),
        ({"exclude_flags": ["no_such_flag"]}, "exclude_flags"),
        ({"exclude_flags": [3]}, "exclude_flags"),
        ({"only_reviewed": "perhaps"}, "only_reviewed"),
        ({"annotated_from": "last tuesday"}, "annotated_from"),
        ({"annotated_from": "2025-02-01", "annotated_to": "2025-01-01"}, "annotated_to"),
        ({"ties": "split"}, "ties"),
        ({"seed": -1}, "seed"),
        ({"split": {"train": 0.9, "test": 0.2}}, "split"),
        ({"split": {"dev": 1.0}}, "split"),
        ({"holdout_annotators": ["nobody"]}, "holdout_annotators"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_options_name_the_field(project, options, field):
    with pytest.raises(ExportOptionsError) as exc:
        clean_options(project, options)
    assert exc.value.field == field


def test_export_data_command(project, tmp_path, capsys):
    out = tmp_path / "out" / "pairs.jsonl"
    call_command("export_data", "--project", project.slug, "--format", "pairwise",
                 "--mode", "consensus", "--min-agreement", "0", "--out", str(out))  # fmt: skip
    snapshot = DatasetSnapshot.objects.get()
    assert snapshot.settings["mode"] == "consensus"
    assert out.read_bytes() == snapshot.path.read_bytes()
    assert snapshot.sha256 in capsys.readouterr().out

    hf_out = tmp_path / "hf-out"
    call_command("export_data", "--project", project.slug, "--format", "hf", "--out", str(hf_out))
    assert (hf_out / "dataset_dict.json").exists()

    with pytest.raises(CommandError, match="--min-agreement"):
        call_command("export_data", "--project", project.slug, "--format", "pairwise",
                     "--min-agreement", "3")  # fmt: skip
    with pytest.raises(CommandError, match="exists"):
        call_command("export_data", "--project", project.slug, "--format", "pairwise",
                     "--out", str(out))  # fmt: skip
    with pytest.raises(CommandError, match="no project"):
        call_command("export_data", "--project", "nope", "--format", "pairwise")

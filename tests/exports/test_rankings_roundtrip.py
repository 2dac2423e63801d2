"""rankings export = the rankwise import format: import(export(x)) == x."""

import pytest

from exports.models import DatasetSnapshot
from tests.exports.conftest import import_lines, read_jsonl
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

ORIGINAL = [
    {
        "id": "text-1",
        "prompt": "Explain the moon landing to a 6 year old.",
        "completions": [
            {"id": "A", "text": "People went to the moon.", "model": "sft-1", "metadata": {"t": 0.7}},
            {"id": "B", "text": "Explain gravity first.", "model": "sft-2", "metadata": {}},
            {"id": "C", "text": "It was a big rocket trip.", "model": "", "metadata": {}},
            {"id": "D", "text": "Nobody knows.", "model": "sft-1", "metadata": {}},
        ],
        "metadata": {"source": "unit", "lang": "en"},
        "gold_ranking": [["A"], ["C"], ["B", "D"]],
        "annotations": [
            {
                "annotator": "alice", "ranking": [["A"], ["C", "B"], ["D"]],
                "ratings": {"A": 7, "B": 4, "C": 4, "D": 1},
                "flags": {"D": ["hallucination"]}, "comment": "D is made up",
                "time_ms": 41000, "skipped": False, "skip_reason": "",
                "shown_order": ["B", "A", "D", "C"], "created_at": "2025-03-04T05:06:07+00:00",
            },
            {
                "annotator": "bob", "ranking": [["C"], ["A"], ["B"], ["D"]], "ratings": {},
                "flags": {}, "comment": "", "time_ms": None, "skipped": False,
                "skip_reason": "", "shown_order": [],
            },
            {
                "annotator": "carol", "ranking": [], "ratings": {}, "flags": {}, "comment": "",
                "time_ms": 3000, "skipped": True, "skip_reason": "not my language",
                "shown_order": [],
            },
        ],
    },
    {
        "id": "chat-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
        ],
        "completions": [
            {"id": "x", "text": "Paris.", "model": "m", "metadata": {}},
            {"id": "y", "text": "Lyon.", "model": "m", "metadata": {}},
        ],
        "metadata": {},
        "annotations": [
            {
                "annotator": "alice", "ranking": [["x"], ["y"]], "ratings": {}, "flags": {},
                "comment": "", "time_ms": 900, "skipped": False, "skip_reason": "",
                "shown_order": ["y", "x"],
            }
        ],
    },
    {
        "id": "unjudged",
        "prompt": "Nobody ranked me yet.",
        "completions": [
            {"id": "A", "text": "one", "model": "", "metadata": {}},
            {"id": "B", "text": "two", "model": "", "metadata": {}},
        ],
        "metadata": {},
        "annotations": [],
    },
]  # fmt: skip

EXTRA_KEYS = {"consensus", "split"}


def strip(line):
    """The line without export-only keys, and without import-time stamps it did not have."""
    line = {k: v for k, v in line.items() if k not in EXTRA_KEYS}
    # each judgement's source and lineage are export-only too (the importer sets its own)
    judgements = [{k: v for k, v in a.items() if k not in ("source", "lineage")}
                  for a in line["annotations"]]  # fmt: skip
    line["annotations"] = [
        a if a["created_at"] == "2025-03-04T05:06:07+00:00" else
        {k: v for k, v in a.items() if k != "created_at"}
        for a in judgements
    ]  # fmt: skip
    return line


def test_import_of_export_gives_back_the_original(build):
    first = ProjectFactory()
    import_lines(first, ORIGINAL)
    exported = read_jsonl(build(first, "rankings").path)
    assert {a["source"] for line in exported for a in line["annotations"]} == {"import"}

    assert [strip(line) for line in exported] == ORIGINAL
    assert all(line["split"] in ("train", "validation", "test") for line in exported)

    second = ProjectFactory()
    result = import_lines(second, exported)  # consensus and split are ignored by the importer
    assert result.prompts_created == 3 and result.annotations_created == 4
    again = build(second, "rankings")
    assert [strip(line) for line in read_jsonl(again.path)] == ORIGINAL
    # Same content, same settings: the very same bytes, whatever the database ids.
    assert again.sha256 == build(first, "rankings").sha256


def test_rankings_carry_consensus_and_counts(build):
    project = ProjectFactory()
    import_lines(project, ORIGINAL)
    snapshot = build(project, "rankings")
    lines = {line["id"]: line for line in read_jsonl(snapshot.path)}

    consensus = lines["text-1"]["consensus"]
    # alice A > B=C > D, bob C > A > B > D (carol skipped): A beats C once, ties once...
    assert consensus["pair_probs"]["A>C"] == 0.5
    assert consensus["pair_probs"]["A>D"] == 1.0
    assert consensus["agreement"] is not None
    assert consensus["ranking"][-1] == ["D"]
    assert "consensus" not in lines["unjudged"]
    assert snapshot.row_counts["rows"] == 3
    assert snapshot.row_counts["annotators"] == 3
    assert snapshot.format == DatasetSnapshot.Format.RANKINGS


def test_date_range_keeps_only_judgements_in_range(build):
    project = ProjectFactory()
    import_lines(project, ORIGINAL)
    snapshot = build(project, "rankings", annotated_to="2025-03-05")
    lines = read_jsonl(snapshot.path)
    # only alice's judgement of text-1 carries an old date; the rest were imported today
    assert [(line["id"], [a["annotator"] for a in line["annotations"]]) for line in lines] == [
        ("text-1", ["alice"])
    ]
    assert snapshot.row_counts["excluded_prompts"] == {"no_judgement_in_date_range": 2}
    later = build(project, "rankings", annotated_from="2025-03-05")
    assert [a["annotator"] for a in read_jsonl(later.path)[0]["annotations"]] == ["bob", "carol"]

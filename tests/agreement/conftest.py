import io
import json

import pytest

from annotate.services.imports import prompts_import
from tests.factories import ProjectFactory

# Three annotators on four prompts, with disagreement, a tie, a skip, ratings and flags.
# The hand-computed figures in test_end_to_end.py refer to these rankings.
LINES = [
    {
        "id": "p1",
        "prompt": "Name a colour.",
        "completions": [{"id": c, "text": t} for c, t in [("A", "Red."), ("B", "Blue"), ("C", "?")]],
        "annotations": [
            {"annotator": "ann1", "ranking": [["A"], ["B"], ["C"]], "ratings": {"A": 6, "B": 5, "C": 1},
             "flags": {"C": ["fails_instruction"]}, "shown_order": ["A", "B", "C"], "time_ms": 9000},
            {"annotator": "ann2", "ranking": [["A"], ["C"], ["B"]], "ratings": {"A": 7, "B": 4, "C": 2},
             "flags": {"C": ["fails_instruction"]}, "shown_order": ["B", "A", "C"], "time_ms": 12000},
            {"annotator": "ann3", "ranking": [["B"], ["A"], ["C"]], "ratings": {"A": 5, "B": 6, "C": 1},
             "shown_order": ["C", "B", "A"], "time_ms": 4000},
        ],
    },
    {
        "id": "p2",
        "prompt": "Count to three.",
        "completions": [{"id": c, "text": t} for c, t in
                        [("A", "1 2 3"), ("B", "1, 2, 3"), ("C", "one two"), ("D", "banana")]],
        "annotations": [
            {"annotator": "ann1", "ranking": [["A", "B"], ["C"], ["D"]], "ratings": {"A": 7, "B": 7, "D": 1},
             "flags": {"D": ["fails_instruction", "hallucination"]}},
            {"annotator": "ann2", "ranking": [["A"], ["B"], ["C"], ["D"]], "ratings": {"A": 7, "B": 6, "D": 2},
             "flags": {"D": ["fails_instruction"]}},
            {"annotator": "ann3", "ranking": [["D"], ["C"], ["B"], ["A"]], "ratings": {"A": 2, "B": 3, "D": 6}},
        ],
    },
    {
        "id": "p3",
        "prompt": "Say hello.",
        "completions": [{"id": "A", "text": "Hello!"}, {"id": "B", "text": "Go away."}],
        "annotations": [
            {"annotator": "ann1", "ranking": [["A"], ["B"]], "ratings": {"A": 6, "B": 2}},
            {"annotator": "ann2", "ranking": [["A"], ["B"]], "ratings": {"A": 6, "B": 1},
             "flags": {"B": ["inappropriate_assistant"]}},
            {"annotator": "ann3", "skipped": True, "skip_reason": "not sure"},
        ],
    },
    {
        "id": "p4",
        "prompt": "Pick a number.",
        "completions": [{"id": c, "text": t} for c, t in [("A", "7"), ("B", "seven"), ("C", "7.0")]],
        "annotations": [{"annotator": "ann1", "ranking": [["C"], ["B"], ["A"]]}],
    },
]  # fmt: skip


def rankwise_bytes(lines) -> io.BytesIO:
    return io.BytesIO("\n".join(json.dumps(line) for line in lines).encode())


@pytest.fixture
def imported_project(db):
    project = ProjectFactory(slug="multi", overlap=3, agreement_threshold=0.6)
    prompts_import(project=project, source=rankwise_bytes(LINES))
    return project

"""docs/client.md's notebook example, run cell by cell against a live server loaded with the
demo data, so the guide cannot drift from the client or the API. The only change: the reward
model trains from the tiny test model instead of MiniLM (the first cell must still name a
real model directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from annotate.services.accounts import token_issue
from annotate.services.demo import demo_load

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.train]
pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "client.md"
START, END = "<!-- notebook-example: start -->", "<!-- notebook-example: end -->"


def notebook_cells() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    example = text[text.index(START) : text.index(END)]
    return re.findall(r"```python\n(.*?)```", example, flags=re.DOTALL)


def run_cell(source: str, number: int, namespace: dict) -> None:
    exec(compile(source, f"docs/client.md (cell {number})", "exec"), namespace)


def test_the_notebook_example_runs_end_to_end(live_server, tiny_rm_base, monkeypatch, capsys,
                                              _fresh_scorers):  # fmt: skip
    demo_load()
    admin = get_user_model().objects.get(username="admin")
    monkeypatch.setenv("RANKWISE_URL", live_server.url)
    monkeypatch.setenv("RANKWISE_TOKEN", token_issue(user=admin).key)
    monkeypatch.chdir(REPO)  # the example names the demo file relative to the checkout

    cells = notebook_cells()
    assert len(cells) == 5, "the example's cells changed: update this test's expectations"
    ns: dict = {}
    run_cell(cells[0], 1, ns)
    assert (Path(ns["BASE_MODEL"]) / "config.json").is_file()
    ns["BASE_MODEL"] = tiny_rm_base
    for number, cell in enumerate(cells[1:], start=2):
        run_cell(cell, number, ns)

    assert ns["result"].prompts_created > 0 and ns["result"].annotations_created > 0
    snapshot = ns["snapshot"]
    assert snapshot.is_ready and len(ns["frame"]) == snapshot.row_counts["prompts"]
    run = ns["run"]
    assert run.status == "succeeded" and run.name == "rm-helpfulness"
    assert {"step", "loss", "accuracy"} <= set(ns["curves"].columns)
    scores = ns["scores"]
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    printed = capsys.readouterr()
    assert "prompts and" in printed.out and f"run {run.id} succeeded" in printed.err

    run_cell(cells[1], 2, ns)  # notebooks get re-run: the project exists, the import is a no-op
    assert ns["result"].prompts_created == 0 and ns["result"].prompts_unchanged > 0

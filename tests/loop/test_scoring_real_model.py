"""Scoring the queue with a real (tiny, random) reward model, scoring new imports, and the
queue's query plan on PostgreSQL."""

import io
import json

import numpy as np
import pytest
from django.utils import timezone

from annotate.models import Completion, Prompt
from annotate.services.queue import prompt_next_for_annotator
from loop.services.settings import loop_settings_update
from rewardmodel.models import RewardModel
from rewardmodel.services import reward_model_score_members
from tests.factories import ProjectFactory, PromptFactory, annotator
from tests.loop.conftest import tiny_texts

pytestmark = pytest.mark.django_db


def test_a_single_head_model_scores_every_pending_prompt(tiny_rm_base, run_on_commit):
    project = ProjectFactory(overlap=1)
    rm = RewardModel.objects.create(name="tiny", path=str(tiny_rm_base))
    for i in range(5):
        PromptFactory(project=project, k=3, text=f"question number {i}")
    words = tiny_texts(15)
    for c in Completion.objects.filter(prompt__project=project).order_by("pk"):
        c.text = words.pop()
        c.save()
    matrices = reward_model_score_members(
        reward_model=rm, items=[{"prompt": "q", "completions": ["a", "b", "c"]}]
    )
    assert matrices[0].shape == (1, 3)  # the (E, n) contract, E = 1
    with run_on_commit():
        loop_settings_update(project=project, priority="uncertainty", reward_model=rm.pk)
    stored = list(Prompt.objects.filter(project=project))
    assert all(p.priority_lineage == {**p.priority_lineage, "model": rm.pk, "members": 1,
                                      "rule": "margin"} for p in stored)  # fmt: skip
    priorities = np.array([p.priority for p in stored])
    assert np.all((priorities >= 0) & (priorities <= 3))  # three pairs, each at most 1
    assert len(set(priorities.round(9))) == 5  # the model tells the prompts apart
    best = max(stored, key=lambda p: (p.priority, -p.pk))
    assert prompt_next_for_annotator(project=project, user=annotator("a", project)).prompt == best


@pytest.mark.django_db(transaction=True)  # the import commits for real, then publishes
def test_imported_prompts_of_a_random_project_get_their_key():
    from annotate.services.imports import prompts_import

    project = ProjectFactory()
    loop_settings_update(project=project, priority="random")
    lines = "".join(
        json.dumps({"id": f"new-{i}", "prompt": f"p{i}", "completions": ["a", "b"]}) + "\n"
        for i in range(3)
    )
    prompts_import(project=project, source=io.BytesIO(lines.encode()), fmt="rankwise")
    assert Prompt.objects.filter(project=project).count() == 3
    assert all(
        p.priority_lineage["rule"] == "random" for p in Prompt.objects.filter(project=project)
    )


@pytest.mark.postgres
def test_the_priority_lane_is_an_index_scan_at_100k_prompts():
    from django.db import connection

    from annotate.services import queue
    from core import db

    project = ProjectFactory(priority="uncertainty")
    rng = np.random.default_rng(0)
    now = timezone.now()
    rows = [(project.pk, f"x{i}", "t", "", {}, False, 0, float(p), now)
            for i, p in enumerate(rng.random(100_000))]  # fmt: skip
    fields = ["project", "external_id", "text", "html", "metadata", "is_gold", "submitted_count",
              "priority", "created_at"]  # fmt: skip
    db.insert_rows(Prompt, fields, rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotate_prompt")
    sql = queue._AT_OVERLAP.format(excluded="", first="p.priority DESC, ")
    user = annotator("u", project)
    params = [project.pk, False, user.pk, 3, db.datetime_param(timezone.now()), 3]
    plan = "\n".join(r[0] for r in db.fetch_all("EXPLAIN " + sql, params))
    print(plan)  # docs/ quotes it
    # the lane walks the index in its ORDER BY: no sort of the 100k rows, no sequential scan
    assert "prompt_priority_idx" in plan, plan
    assert "Sort" not in plan and "Seq Scan on annotate_prompt" not in plan, plan

"""core.db.model_from_row: the one way a raw row becomes a model object."""

from datetime import UTC, datetime

import pytest

from annotate.models import Claim, Prompt
from core import db
from tests.factories import ProjectFactory, PromptFactory, annotator

pytestmark = pytest.mark.django_db


def test_a_raw_prompt_row_reads_as_the_orm_reads_it():
    prompt = PromptFactory(
        project=ProjectFactory(), is_gold=True, messages=[{"role": "user", "content": "hi"}]
    )
    fields = ("id", "project_id", "external_id", "messages", "is_gold")
    row = db.fetch_one(
        f"SELECT {', '.join(fields)} FROM annotate_prompt WHERE id = %s", [prompt.pk]
    )
    got = db.model_from_row(Prompt, fields, row)
    assert got.is_gold is True  # SQLite hands back 1
    assert got.messages == [{"role": "user", "content": "hi"}]  # text on both backends
    assert (got.pk, got.project_id, got.external_id) == (
        prompt.pk,
        prompt.project_id,
        prompt.external_id,
    )
    assert got._state.adding is False


def test_fields_may_come_in_any_order_and_datetimes_come_back_aware():
    project = ProjectFactory()
    prompt = PromptFactory(project=project)
    user = annotator("alice", project)
    naive = datetime(2026, 1, 2, 3, 4, 5)  # what SQLite's raw cursor gives
    claim = db.model_from_row(
        Claim,
        ("expires_at", "shown_order", "id", "user_id", "prompt_id", "project_id", "claimed_at"),
        (naive, '["B", "A"]', 7, user.pk, prompt.pk, project.pk, naive),
    )
    assert claim.pk == 7 and claim.prompt_id == prompt.pk and claim.user_id == user.pk
    assert claim.shown_order == ["B", "A"]
    assert claim.expires_at == claim.claimed_at == naive.replace(tzinfo=UTC)

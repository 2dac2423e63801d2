"""The "New run" form in Chromium: the request JSON follows the form as it is edited, the
fields follow the kind, an error appears next to its field, and a good submit starts the run."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def models_root(tmp_path, settings):
    root = tmp_path / "models"
    (root / "tiny-gpt2").mkdir(parents=True)
    (root / "tiny-gpt2" / "config.json").write_text("{}")
    settings.RANKWISE_MODEL_ROOTS = [str(root)]
    return root


def shown_json(page) -> dict:
    return json.loads(page.locator("#config-json").inner_text())


def test_new_run_form_live_json_errors_in_place_and_start(
    page, demo, login, live_server, models_root, screenshot, monkeypatch
):
    from annotate.models import Project

    # The run is queued, not trained: the worker's side has its own tests.
    monkeypatch.setattr("training.services.runs._enqueue", lambda run, **kwargs: None)
    from tests.training.helpers import snapshot_make
    from training.models import TrainingRun

    project = Project.objects.get(slug="parrots")
    snapshot = snapshot_make(project=project)
    login(page, "mlengineer")
    page.goto(f"{live_server.url}/projects/parrots/runs/new/")
    assert shown_json(page)["kind"] == "reward_model"

    page.select_option("#f-base-model", str(models_root / "tiny-gpt2"))
    page.select_option("#f-snapshot", str(snapshot.pk))
    page.fill("#f-reward_model-learning_rate", "0.001")
    body = shown_json(page)
    assert body["base_model"] == str(models_root / "tiny-gpt2")
    assert body["snapshot"] == snapshot.pk and body["config"]["learning_rate"] == 0.001

    page.check("input[name=kind][value=ppo]")
    body = shown_json(page)
    assert body["kind"] == "ppo" and "total_steps" in body["config"]
    assert body["prompt_project"] == project.pk and "snapshot" not in body
    assert page.locator("#f-reward-model").is_visible()
    assert not page.locator("#f-snapshot").is_visible()
    assert not page.locator("#f-reward_model-learning_rate").is_visible()

    page.check("input[name=kind][value=reward_model]")
    page.fill("#f-reward_model-batch_size", "lots")
    assert shown_json(page)["config"]["batch_size"] == "lots"  # sent as typed; the server judges
    page.click("#run-start")
    error = page.locator("#error-config-batch_size")
    error.wait_for()
    assert "config.batch_size" in error.inner_text() and "must be int" in error.inner_text()
    # The error sits in the batch_size field's block, and the typed values are kept.
    assert page.locator('[data-field="config.batch_size"] #error-config-batch_size').count() == 1
    assert page.input_value("#f-reward_model-learning_rate") == "0.001"
    # The form's answer was a 400 (bad input), which the browser logs; nothing else was.
    assert page.problems == ["console: Failed to load resource: the server responded with a "
                             "status of 400 (Bad Request)"]  # fmt: skip
    page.problems.clear()
    screenshot(page, "new-run-error", whole=True)

    page.fill("#f-reward_model-batch_size", "4")
    page.click("#run-start")
    page.wait_for_url(f"{live_server.url}/training/runs/*/")
    run = TrainingRun.objects.get()
    assert run.status == "queued" and run.snapshot_id == snapshot.pk
    assert run.config["batch_size"] == 4 and run.config["learning_rate"] == 0.001
    assert page.locator("#reproduce").count() == 1

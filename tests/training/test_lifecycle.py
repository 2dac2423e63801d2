"""Whole runs with tiny models in eager mode: train, report, register, score, cancel, resume,
survive a killed worker, PPO against the registered reward model, generate for ranking."""

import json
import math
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from annotate.models import Prompt
from core.models import AuditEvent
from rewardmodel.models import RewardModel
from tests.factories import ProjectFactory, PromptFactory
from tests.training.helpers import PPO_CONFIG, RM_CONFIG, WORDS, client_for, engineer, snapshot_make
from training.models import Policy, TrainingRun
from training.progress import DatabaseCallbacks
from training.services import training_run_execute, training_run_start, training_runs_reap_stale

pytestmark = [pytest.mark.django_db, pytest.mark.train]
torch = pytest.importorskip("torch")

RUNS = "/api/v1/training-runs/"


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing in the worker catches it, so the run stays "running"."""


@pytest.fixture
def project():
    return ProjectFactory()


@pytest.fixture
def mle(project):
    return engineer(project)


@pytest.fixture(autouse=True)
def _poll_every_step(settings):
    # Tiny steps take milliseconds; production polls at most once a second.
    settings.TRAINING_CANCEL_POLL_SECONDS = 0


def start_rm_run(client, snapshot, base, run_on_commit, **config):
    with run_on_commit():
        response = client.post(
            RUNS,
            {"kind": "reward_model", "name": "rm-test", "snapshot": snapshot.pk,
             "base_model": str(base), "config": {**RM_CONFIG, **config}},
            format="json",
        )  # fmt: skip
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"  # the response is sent before the worker runs
    return TrainingRun.objects.get(pk=response.json()["id"])


def test_reward_model_run_trains_reports_registers_and_scores(
    mle, project, tiny_rm_base, run_on_commit, monkeypatch
):
    from transformers import AutoModelForSequenceClassification

    from rlhf.scoring import RewardScorer

    snapshot = snapshot_make(project)
    client = client_for(mle)
    run = start_rm_run(client, snapshot, tiny_rm_base, run_on_commit)

    body = client.get(f"{RUNS}{run.pk}/").json()
    assert body["status"] == "succeeded", body["error"] + body["log_tail"]
    assert body["progress"] == {"step": 6, "total_steps": 6, "fraction": 1.0, "eta_seconds": 0}
    assert body["attempts"] == 1 and body["heartbeat_at"] and body["finished_at"]
    assert body["last_checkpoint"].endswith("checkpoints/step-6")
    assert body["resolved_config"]["train_file"] == str(snapshot.path)
    assert body["resolved_config"]["checkpoint_every"] == 2
    assert body["card"]["kind"] == "reward_model"
    assert body["card"]["snapshot_sha256"] == snapshot.sha256
    assert 0.0 <= body["result"]["metrics"]["validation"]["accuracy"] <= 1.0
    assert "checkpoint at step 2" in body["log_tail"]

    points = client.get(f"{RUNS}{run.pk}/metrics").json()["points"]
    assert [p["step"] for p in points] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(p["values"]["loss"]) for p in points)
    assert all(0 <= p["values"]["accuracy"] <= 1 for p in points)

    rm = RewardModel.objects.get(training_run=run)
    assert body["registered_reward_model"] == rm.pk
    registered = AuditEvent.objects.get(action="reward_model.register")
    assert (registered.object_id, registered.actor, registered.source) == (
        str(rm.pk),
        mle,
        "worker",
    )
    assert registered.project_id == project.pk and registered.after["training_run"] == run.pk
    assert rm.name == "rm-test" and rm.path == f"runs/{run.pk}" and rm.snapshot == snapshot
    assert rm.metrics == body["result"]["metrics"]
    listed = client.get("/api/v1/reward-models/").json()["results"]
    assert [r["id"] for r in listed] == [rm.pk]
    model = AutoModelForSequenceClassification.from_pretrained(rm.resolved_path)
    assert model.config.num_labels == 1

    loads = []
    original = RewardScorer.from_pretrained.__func__
    monkeypatch.setattr(
        RewardScorer,
        "from_pretrained",
        classmethod(lambda cls, *a, **k: loads.append(a[0]) or original(cls, *a, **k)),
    )
    completions = ["the cat sat good", "the cat sat", "a red dog ran"]
    url = f"/api/v1/reward-models/{rm.pk}/score"
    response = client.post(
        url, {"prompt": "big red mat", "completions": completions}, format="json"
    )
    assert response.status_code == 200, response.content
    scores = response.json()["scores"]
    expected = RewardScorer.from_pretrained(str(rm.resolved_path)).score(
        ["big red mat"] * 3, completions
    )
    assert scores == pytest.approx(expected, abs=1e-5)
    loads.clear()
    batch = {"items": [{"prompt": "big red mat", "completions": completions},
                       {"prompt": [{"role": "user", "content": "a cat"}], "completions": ["on"]}]}  # fmt: skip
    response = client.post(url, batch, format="json")
    assert response.status_code == 200
    assert [len(item["scores"]) for item in response.json()["items"]] == [3, 1]
    assert response.json()["items"][0]["scores"] == pytest.approx(scores, abs=1e-5)
    assert loads == []  # served from the per-process cache, not loaded again
    response = client.post(url, {"prompt": "x", "completions": []}, format="json")
    assert response.status_code == 400 and "completions" in response.json()["fields"]


def test_cancel_stops_within_one_step_and_resume_continues_from_checkpoint(
    mle, project, tiny_rm_base, run_on_commit, monkeypatch
):
    client = client_for(mle)
    seen_running = []
    original = DatabaseCallbacks.on_progress

    def on_progress(self, step, total, metrics):
        original(self, step, total, metrics)
        if step == 3 and self.attempt == 1:
            # What a user's click does while the worker trains: flip the flag through the API.
            response = client.post(f"{RUNS}{self.run_id}/cancel")
            seen_running.append((response.status_code, response.json()["status"]))

    monkeypatch.setattr(DatabaseCallbacks, "on_progress", on_progress)
    # A pipeline listening: the run's ends reach a real receiver, signed, as they commit.
    from tests.webhooks.receiver import Receiver
    from webhooks.services import webhook_endpoint_create

    receiver = Receiver(secret="w" * 20)
    webhook_endpoint_create(project=project, url=receiver.url(), secret="w" * 20, events=[
        "training_run.cancelled", "training_run.succeeded", "model.registered"])  # fmt: skip
    run = start_rm_run(client, snapshot_make(project), tiny_rm_base, run_on_commit)
    run.refresh_from_db()
    assert seen_running == [(202, "running")]
    assert run.status == "cancelled", run.error + run.log_tail
    assert run.step == 3  # step 4 never ran: stopped before the next optimiser step
    assert run.last_checkpoint.endswith("step-2")
    assert "stopped: cancelled" in run.log_tail
    assert not RewardModel.objects.exists()

    with run_on_commit():
        response = client.post(f"{RUNS}{run.pk}/resume")
    assert response.status_code == 202, response.content
    run.refresh_from_db()
    assert run.status == "succeeded", run.error + run.log_tail
    assert run.attempts == 2 and run.step == 6
    assert f"resuming from {run.artifact_dir / 'checkpoints' / 'step-2'}" in run.log_tail
    assert run.result["training"]["resumed_from"].endswith("step-2")
    steps = list(run.metric_points.values_list("step", flat=True))
    # Step 3 trained again from the step-2 checkpoint; the first attempt's point for it was
    # dropped when the second started, so the chart has each step once.
    assert steps == [1, 2, 3, 4, 5, 6]
    assert RewardModel.objects.filter(training_run=run).count() == 1
    receiver.close()
    events = [json.loads(r["body"]) for r in receiver.requests]
    assert [e["type"] for e in events] == [
        "training_run.cancelled", "training_run.succeeded", "model.registered"]  # fmt: skip
    assert all(r["signed"] for r in receiver.requests)
    assert events[0]["data"]["training_run"]["id"] == run.pk
    assert events[2]["data"]["model"]["id"] == RewardModel.objects.get(training_run=run).pk


def test_killed_worker_is_reaped_and_the_run_resumes_from_its_checkpoint(
    mle, project, tiny_rm_base, run_on_commit, monkeypatch, django_capture_on_commit_callbacks
):
    original = DatabaseCallbacks.on_progress

    def on_progress(self, step, total, metrics):
        original(self, step, total, metrics)
        if step == 3 and self.attempt == 1:
            raise WorkerKilled

    monkeypatch.setattr(DatabaseCallbacks, "on_progress", on_progress)
    with django_capture_on_commit_callbacks(execute=False):
        run = training_run_start(
            user=mle, kind="reward_model", base_model=str(tiny_rm_base),
            snapshot_id=snapshot_make(project).pk, config=RM_CONFIG,
        )  # fmt: skip
    first_task = run.celery_task_id
    with pytest.raises(WorkerKilled):
        training_run_execute(run_id=run.pk, task_id=first_task)
    run.refresh_from_db()
    assert run.status == "running" and run.last_checkpoint.endswith("step-2")

    # acks_late redelivers the message at once; the run still looks alive, so it waits.
    assert training_run_execute(run_id=run.pk, task_id=first_task) == "busy"

    later = timezone.now() + timedelta(hours=1)
    with run_on_commit():
        outcome = training_runs_reap_stale(now=later)
    assert outcome == {"requeued": [run.pk], "failed": []}
    run.refresh_from_db()
    assert run.status == "succeeded", run.error + run.log_tail
    assert run.attempts == 2 and run.step == 6
    assert "[reaper] no heartbeat since" in run.log_tail
    assert "resuming from" in run.log_tail and "step-2" in run.log_tail
    # The first delivery, retried later, finds a newer message owns the run.
    assert training_run_execute(run_id=run.pk, task_id=first_task) == "skipped"
    assert RewardModel.objects.filter(training_run=run).count() == 1


def test_ppo_against_the_registered_reward_model_then_generate_for_ranking(
    mle, project, tiny_rm_base, tiny_policy, run_on_commit
):
    from transformers import AutoModelForCausalLM

    client = client_for(mle)
    snapshot = snapshot_make(project)
    rm_run = start_rm_run(client, snapshot, tiny_rm_base, run_on_commit)
    rm = RewardModel.objects.get(training_run=rm_run)
    for i in range(10):
        PromptFactory(project=project, external_id=f"q{i}", text=" ".join(WORDS[i : i + 3]))

    with run_on_commit():
        response = client.post(
            RUNS,
            {"kind": "ppo", "name": "ppo-test", "base_model": str(tiny_policy),
             "reward_model": rm.pk, "prompt_project": project.pk, "config": PPO_CONFIG},
            format="json",
        )  # fmt: skip
    assert response.status_code == 202, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.status == "succeeded", run.error + run.log_tail
    assert run.step == run.total_steps == 2

    values = [p.values for p in run.metric_points.all()]
    assert "eval_score" in values[0]  # the evaluation before any update
    trained = [v for v in values if "kl" in v and "entropy" in v]
    assert len(trained) == 2 and all(math.isfinite(v["score"]) for v in trained)
    samples = client.get(f"{RUNS}{run.pk}/samples").json()
    assert sorted({s["step"] for s in samples}) == [0, 1, 2]  # start, checkpoint, final
    assert all(isinstance(s["response"], str) for s in samples)

    policy = Policy.objects.get(training_run=run)
    assert policy.name == "ppo-test" and policy.reward_model == rm
    registered = AuditEvent.objects.get(action="policy.register")
    assert (registered.object_id, registered.source) == (str(policy.pk), "worker")
    assert registered.project_id == project.pk and registered.actor == mle
    AutoModelForCausalLM.from_pretrained(policy.resolved_path)
    lineage = run.card["lineage"]
    assert lineage["snapshot"]["id"] == snapshot.pk
    assert lineage["snapshot"]["sha256"] == snapshot.sha256
    assert lineage["reward_model_run"]["id"] == rm_run.pk
    assert lineage["ppo_run"]["id"] == run.pk
    assert run.card["reward_model"]["run_id"] == str(rm_run.pk)
    prompts_file = run.artifact_dir / "inputs" / "prompts.jsonl"
    assert len(prompts_file.read_text().splitlines()) == 10

    page = Client()
    page.force_login(mle)
    response = page.get(f"/training/runs/{run.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sample responses" in html and 'data-keys="score,eval_score"' in html

    target = ProjectFactory()
    target.memberships.create(user=mle)
    with run_on_commit():
        response = client.post(
            "/api/v1/generations/",
            {"project": target.pk, "training_run": run.pk, "k": 3, "max_new_tokens": 5,
             "prompts": ["the cat sat",
                         {"id": "mine", "messages": [{"role": "user", "content": "a dog ran"}]}]},
            format="json",
        )  # fmt: skip
    assert response.status_code == 202, response.content
    job = client.get(f"/api/v1/generations/{response.json()['id']}/").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["prompts_created"] == 2 and job["result"]["completions_created"] == 6
    created = Prompt.objects.filter(project=target).order_by("external_id")
    assert [p.external_id for p in created] == [f"gen{job['id']}-0", "mine"]
    for prompt in created:
        completions = list(prompt.completions.all())
        assert [c.external_id for c in completions] == ["A", "B", "C"]
        assert {c.model_name for c in completions} == {"ppo-test"}
        assert prompt.metadata["generation_job"] == job["id"]
    assert created[1].messages == [{"role": "user", "content": "a dog ran"}]
    json.dumps(job)  # plain JSON all the way down

"""The client and command-line calls shown on run and snapshot pages: the command parses with
the real ``rankwise`` parser and asks for what the object records; the Python compiles."""

from __future__ import annotations

import ast
import shlex

import pytest
from rankwise_client.cli import build_parser
from rankwise_client.cli import commands as cli_commands

from core.roles import Roles
from exports.models import DatasetSnapshot
from exports.reproduce import snapshot_cli_command, snapshot_python_snippet
from rewardmodel.models import RewardModel
from tests.training.helpers import engineer, snapshot_make, user_with
from training.models import TrainingRun
from training.reproduce import run_cli_command, run_python_snippet

pytestmark = pytest.mark.django_db

CONFIG = {"max_steps": 5, "learning_rate": 1e-4, "labels": "consensus", "lora_r": 0,
          "gradient_checkpointing": True, "lora_target_modules": ["q_proj", "v_proj"]}  # fmt: skip


def parse(command: str):
    words = shlex.split(command)
    assert words[0] == "rankwise"
    return build_parser().parse_args(words[1:])


def test_a_reward_model_runs_command_parses_and_carries_its_config():
    snapshot = snapshot_make()
    run = TrainingRun.objects.create(kind="reward_model", name="it's mine", snapshot=snapshot,
                                     base_model="/models/tiny gpt2", config=CONFIG)  # fmt: skip
    args = parse(run_cli_command(run))
    assert args.func is cli_commands.cmd_train_reward_model
    assert (args.project, args.base_model, args.name) == (
        snapshot.project.slug,
        "/models/tiny gpt2",
        "it's mine",
    )
    assert args.snapshot == str(snapshot.pk) and args.watch
    assert cli_commands._config(args, {}) == CONFIG
    ast.parse(run_python_snippet(run))


def test_a_ppo_runs_command_parses():
    snapshot = snapshot_make()
    rm = RewardModel.objects.create(name="rm", path="x", snapshot=snapshot)
    run = TrainingRun.objects.create(kind="ppo", reward_model=rm, prompt_project=snapshot.project,
                                     base_model="/m/sft", config={"total_steps": 3})  # fmt: skip
    args = parse(run_cli_command(run))
    assert args.func is cli_commands.cmd_train_ppo
    assert (args.project, args.reward_model, args.snapshot) == (snapshot.project.slug, rm.pk, None)
    assert cli_commands._config(args, {}) == {"total_steps": 3}
    snippet = run_python_snippet(run)
    ast.parse(snippet)
    assert f"prompt_project={snapshot.project.slug!r}" in snippet


def test_a_snapshots_command_parses_to_its_settings():
    project = snapshot_make().project
    settings = {"mode": "consensus", "min_agreement": 0.6, "exclude_flags": ["unsafe"],
                "only_reviewed": True, "annotated_from": "2026-01-01T00:00:00+00:00",
                "annotated_to": None, "ties": "keep", "seed": 3,
                "split": {"train": 0.8, "validation": 0.1, "test": 0.1},
                "holdout_annotators": ["carol"]}  # fmt: skip
    snapshot = DatasetSnapshot.objects.create(project=project, format="pairwise",
                                              settings=settings)  # fmt: skip
    args = parse(snapshot_cli_command(snapshot))
    assert args.func is cli_commands.cmd_export and args.format == "pairwise"
    wanted = {k: v for k, v in settings.items() if v is not None}
    assert cli_commands._export_options(args) == wanted
    ast.parse(snapshot_python_snippet(snapshot))


def test_run_page_and_snapshot_admin_page_show_them(client):
    snapshot = snapshot_make()
    run = TrainingRun.objects.create(kind="reward_model", snapshot=snapshot, base_model="/m",
                                     config={"max_steps": 2})  # fmt: skip
    client.force_login(engineer(snapshot.project))
    html = client.get(f"/training/runs/{run.pk}/").content.decode()
    assert 'id="reproduce-cli"' in html and "rankwise train reward-model" in html
    assert "rw.runs.start_reward_model(" in html
    admin = user_with(Roles.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(f"/admin/exports/datasetsnapshot/{snapshot.pk}/change/").content.decode()
    assert "rankwise export" in page and "rw.snapshots.create(" in page

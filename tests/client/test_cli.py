"""The ``rankwise`` command against the live server: output for people and for scripts, the
login file, and the exit codes docs/client.md promises."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.roles import Roles
from tests.client.conftest import ranking_lines, token_for, write_jsonl
from tests.client.faulty_proxy import free_port
from tests.training.helpers import RM_CONFIG, snapshot_make
from training.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cli(live_server, admin_token, monkeypatch, capsys):
    """``cli(*argv)`` -> (exit code, stdout, stderr), as the admin through the environment."""
    from rankwise_client.cli import main

    monkeypatch.setenv("RANKWISE_URL", live_server.url)
    monkeypatch.setenv("RANKWISE_TOKEN", admin_token)

    def run(*argv: str):
        capsys.readouterr()
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_login_checks_the_token_and_writes_a_private_file(live_server, admin_token, tmp_path, cli):
    os.environ.pop("RANKWISE_URL"), os.environ.pop("RANKWISE_TOKEN")
    path = Path(os.environ["RANKWISE_CONFIG"])

    code, _, err = cli("login", "--url", live_server.url, "--token", "wrong")
    assert code == 4 and "Invalid token" in err and not path.exists()

    code, out, _ = cli("login", "--url", live_server.url, "--token", admin_token)
    assert code == 0 and "as root (admin)" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": live_server.url, "token": admin_token}

    code, out, _ = cli("--json", "whoami")  # no URL or token in the environment: the file
    assert code == 0 and json.loads(out)["username"] == "root"
    assert cli("logout")[0] == 0 and not path.exists()
    code, _, err = cli("whoami")
    assert code == 2 and "rankwise login" in err


def test_projects_import_export_and_agreement(cli, project, rankings_file, tmp_path):
    code, out, _ = cli("projects", "list")
    assert code == 0 and "parrots" in out.splitlines()[2]
    code, out, _ = cli("projects", "list", "--json")
    assert code == 0 and json.loads(out)[0]["slug"] == "parrots"

    code, out, _ = cli("import", "parrots", rankings_file)
    assert code == 0 and "prompts_created: 12" in out

    bad = ranking_lines(3)
    bad[2]["completions"] = []
    code, out, err = cli("import", "parrots", write_jsonl(tmp_path / "bad.jsonl", bad))
    assert code == 3 and "[invalid_import, HTTP 400]" in err and "line 3:" in err and out == ""
    code, _, err = cli("--json", "import", "parrots", write_jsonl(tmp_path / "bad2.jsonl", bad))
    error = json.loads(err)
    assert code == 3 and error["error"] == "invalid_import" and error["exit_code"] == 3
    assert "line 3" in error["fields"]

    out_file = tmp_path / "pairs.jsonl"
    code, out, _ = cli("--json", "export", "parrots", "--format", "pairwise", "--out", out_file,
                       "--split", "0.8,0.1,0.1", "--seed", "7")  # fmt: skip
    snapshot = json.loads(out)
    assert code == 0 and snapshot["downloaded_to"] == str(out_file)
    assert hashlib.sha256(out_file.read_bytes()).hexdigest() == snapshot["sha256"]
    assert snapshot["settings"]["seed"] == 7

    code, out, _ = cli("agreement", "parrots")
    assert code == 0 and "pairwise_agreement" in out and "a1" in out and "judgements 24" in out


@pytest.mark.train
def test_train_watch_runs_and_their_exit_codes(cli, project, rankings_file, tiny_rm_base, tmp_path):
    pytest.importorskip("torch")
    cli("import", "parrots", rankings_file)
    config = tmp_path / "rm.json"
    config.write_text(json.dumps({**RM_CONFIG, "max_steps": 4}))
    code, out, err = cli("train", "reward-model", "parrots", "--base-model", tiny_rm_base,
                         "--config", config, "--set", "log_every=2", "--epochs", "1",
                         "--name", "cli-rm", "--watch", "--poll", "0.1")  # fmt: skip
    assert code == 0, err
    assert (
        "succeeded" in out.splitlines()[0]
        and "step 4/4" in out
        and "registered reward model" in out
    )
    run = TrainingRun.objects.get(name="cli-rm")
    assert (
        run.config["log_every"] == 2
        and run.config["num_epochs"] == 1
        and run.config["max_steps"] == 4
    )

    code, out, _ = cli("--json", "runs", "list", "--kind", "reward_model")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [run.pk]
    code, out, _ = cli("runs", "show", run.pk)
    assert code == 0 and f"run {run.pk} succeeded" in out
    # Finished: cancel and resume are refused by the API (409) -> 3.
    code, _, err = cli("runs", "cancel", run.pk)
    assert code == 3 and "HTTP 409" in err
    assert cli("runs", "resume", run.pk)[0] == 3
    assert cli("runs", "show", 999999)[0] == 3

    code, out, _ = cli("--json", "score", run.registered_reward_model.pk, "--prompt", "the cat",
                       "a dog good", "red mat")  # fmt: skip
    assert code == 0 and len(json.loads(out)["scores"]) == 2

    code, _, err = cli("train", "reward-model", "parrots", "--base-model", tiny_rm_base,
                       "--snapshot", "latest", "--set", "lerning_rate=1")  # fmt: skip
    assert code == 3 and "config.lerning_rate" in err

    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    code, out, err = cli("train", "reward-model", "parrots", "--base-model", broken,
                         "--snapshot", "latest", "--max-steps", "2", "--watch", "--poll", "0.1")  # fmt: skip
    assert code == 6 and "failed" in out.splitlines()[0] and "error:" in out


def test_usage_auth_unavailable_and_timeout_exit_codes(cli, live_server, project, monkeypatch):
    assert cli("train", "reward-model", "parrots", "--base-model", "/m", "--snapshot", "x")[0] == 2
    with pytest.raises(SystemExit) as caught:
        cli("runs", "frobnicate")
    assert caught.value.code == 2

    mle = token_for(Roles.ML_ENGINEER, project=project)
    code, _, err = cli("--token", mle, "export", "parrots", "--format", "rankings", "--out", "x")
    assert code == 4 and "permission_denied" in err

    code, _, err = cli(
        "--url", f"http://127.0.0.1:{free_port()}", "--retries", "1", "projects", "list"
    )
    assert code == 5 and "ConnectError" in err

    # A run waiting for a worker (none consumes the queue here).
    queued = TrainingRun.objects.create(kind="reward_model", base_model="/m", status="queued",
                                        snapshot=snapshot_make(project))  # fmt: skip
    code, out, err = cli("runs", "watch", queued.pk, "--timeout", "0.3", "--poll", "0.1")
    assert code == 7 and "gave up" not in out and "still queued" in err


def test_the_installed_command(live_server, admin_token, project):
    """``pip install ./client`` puts ``rankwise`` next to the interpreter."""
    command = Path(sys.executable).parent / "rankwise"
    env = {**os.environ, "RANKWISE_URL": live_server.url, "RANKWISE_TOKEN": admin_token}
    done = subprocess.run([command, "--json", "projects", "list"], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [p["slug"] for p in json.loads(done.stdout)] == ["parrots"]
    env["RANKWISE_TOKEN"] = "revoked"
    done = subprocess.run([command, "projects", "list"], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 4 and "rankwise: Invalid token" in done.stderr


def test_login_with_a_username_and_password(live_server, cli, monkeypatch, transactional_db):
    """The password is read from stdin (a pipe here), exchanged for the user's token, and the
    token, never the password, is stored."""
    import io

    from tests.factories import UserFactory

    user = UserFactory(username="eve", roles=[Roles.ML_ENGINEER])
    user.set_password("correct horse battery")
    user.save()
    os.environ.pop("RANKWISE_URL"), os.environ.pop("RANKWISE_TOKEN")
    path = Path(os.environ["RANKWISE_CONFIG"])
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong password\n"))
    code, _, err = cli("login", "--url", live_server.url, "--username", "eve")
    assert code == 3 and "Wrong username or password" in err and not path.exists()
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, out, _ = cli("login", "--url", live_server.url, "-u", "eve")
    assert code == 0 and "as eve (ml_engineer)" in out
    stored = json.loads(path.read_text())
    assert stored["token"] == user.auth_token.key and "correct horse" not in path.read_text()
    # A second login returns the same token: the first machine stays signed in.
    from rankwise_client import Client

    assert Client.token_for(live_server.url, "eve", "correct horse battery") == stored["token"]

"""The client and command-line calls that start a run like a given one (shown on its page).

Generated from the run's row, so they are what the API recorded, not a template; the tests
parse the command with the real ``rankwise`` argument parser.
"""

from __future__ import annotations

import json
import pprint
import shlex

from training.configs import PPO


def _project_slug(run) -> str:
    if run.snapshot_id:
        return run.snapshot.project.slug
    if run.prompt_project_id:
        return run.prompt_project.slug
    return ""


def run_cli_command(run) -> str:
    """``rankwise train ...`` with the run's inputs and every option it was given."""
    kind = "ppo" if run.kind == PPO else "reward-model"
    words = ["rankwise", "train", kind, _project_slug(run) or "PROJECT",
             "--base-model", run.base_model]  # fmt: skip
    if run.name:
        words += ["--name", run.name]
    if run.kind == PPO:
        words += ["--reward-model", str(run.reward_model_id)]
        if run.snapshot_id:
            words += ["--snapshot", str(run.snapshot_id)]
    else:
        words += ["--snapshot", str(run.snapshot_id)]
    for key, value in sorted((run.config or {}).items()):
        words += ["--set", f"{key}={json.dumps(value)}"]
    words.append("--watch")
    return " ".join(shlex.quote(w) for w in words)


def run_python_snippet(run) -> str:
    """The same start through the Python client."""
    # repr, not JSON: the snippet is Python (True, None).
    config = pprint.pformat(run.config or {}, sort_dicts=True).replace("\n", "\n    ")
    lines = ["from rankwise_client import Client", "", "rw = Client()  # RANKWISE_URL, "
             "RANKWISE_TOKEN, or `rankwise login`"]  # fmt: skip
    if run.kind == PPO:
        source = (f"snapshot={run.snapshot_id}" if run.snapshot_id
                  else f"prompt_project={_project_slug(run)!r}")  # fmt: skip
        lines.append(
            f"run = rw.runs.start_ppo(\n    {run.base_model!r},\n    {run.reward_model_id},\n"
            f"    {config},\n    name={run.name!r},\n    {source},\n)"
        )
    else:
        lines.append(
            f"run = rw.runs.start_reward_model(\n    {run.snapshot_id},\n    {run.base_model!r},\n"
            f"    {config},\n    name={run.name!r},\n)"
        )
    lines.append("run = rw.runs.watch(run)  # progress bar; raises JobFailed if it fails")
    return "\n".join(lines)

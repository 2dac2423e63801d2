"""One function per command: parse what argparse gave, call the client, print. Each returns
an exit code; errors are raised and mapped to codes in ``cli.main``."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from rankwise_client.cli.output import JOB_FAILED, OK, fmt, table
from rankwise_client.client import Client
from rankwise_client.config import config_path, config_read, config_write
from rankwise_client.errors import JobFailed, RankwiseError
from rankwise_client.resources.training import progress_text
from rankwise_client.types import AgreementReport, Snapshot, TrainingRun


class UsageError(RankwiseError):
    """A command line that cannot work (exit code 2)."""


# --- account ---------------------------------------------------------------------------------


def cmd_login(args, ctx) -> int:
    url = args.url or os.environ.get("RANKWISE_URL") or ctx.stored.get("url")
    if not url:
        raise UsageError("give the server: rankwise login --url http://host:8000")
    token = args.token
    if not token and args.username:
        if sys.stdin.isatty():
            password = getpass.getpass(f"Password of {args.username} on {url}: ")
        else:
            password = sys.stdin.readline().rstrip("\n")  # `echo "$PW" | rankwise login ...`
        token = Client.token_for(url, args.username, password)
    if not token:
        if sys.stdin.isatty():
            token = getpass.getpass(f"API token for {url} (an admin issues it): ").strip()
        else:
            token = sys.stdin.readline().strip()  # e.g. `echo $TOKEN | rankwise login --url ...`
    if not token:
        raise UsageError("no token given")
    client = Client(url, token, retries=ctx.retries)
    me = client.me()  # a wrong token fails here (401) and nothing is written
    path = config_write(url=client.url, token=token)
    ctx.out.result(
        {"url": client.url, "username": me.username, "roles": me.roles, "config": str(path)},
        f"Logged in to {client.url} as {me.username} ({', '.join(me.roles) or 'no role'}); "
        f"saved to {path} (mode 600).",
    )
    return OK


def cmd_logout(args, ctx) -> int:
    path = config_path()
    existed = path.exists()
    path.unlink(missing_ok=True)
    ctx.out.result({"config": str(path), "removed": existed},
                   f"Removed {path}." if existed else f"No {path}; nothing to do.")  # fmt: skip
    return OK


def cmd_whoami(args, ctx) -> int:
    me = ctx.client.me()
    ctx.out.result(me.raw, f"{me.username} on {ctx.client.url}\nroles: {', '.join(me.roles) or '-'}"
                           f"\nprojects: {', '.join(me.projects) or '-'}")  # fmt: skip
    return OK


# --- projects, import, export, agreement -------------------------------------------------------


def cmd_projects_list(args, ctx) -> int:
    projects = ctx.client.projects.list()
    rows = [(p.slug, p.name, p.prompt_count, p.annotation_count, p.overlap) for p in projects]
    ctx.out.result([p.raw for p in projects],
                   table(rows, ["slug", "name", "prompts", "judgements", "overlap"]))  # fmt: skip
    return OK


def cmd_import(args, ctx) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    result = ctx.client.projects.import_file(
        args.project, path, format=args.format, annotator=args.annotator,
        progress=ctx.out.progress,
    )  # fmt: skip
    ctx.out.result(result.raw, "\n".join(f"{k}: {v}" for k, v in result.raw.items()))
    return OK


def _export_options(args) -> dict[str, Any]:
    options: dict[str, Any] = {"mode": args.mode, "ties": args.ties, "seed": args.seed}
    if args.min_agreement is not None:
        options["min_agreement"] = args.min_agreement
    if args.exclude_flag:
        options["exclude_flags"] = args.exclude_flag
    if args.only_reviewed:
        options["only_reviewed"] = True
    if args.annotated_from:
        options["annotated_from"] = args.annotated_from
    if args.annotated_to:
        options["annotated_to"] = args.annotated_to
    if args.holdout_annotator:
        options["holdout_annotators"] = args.holdout_annotator
    if args.split:
        try:
            train, validation, test = (float(x) for x in args.split.split(","))
        except ValueError:
            raise UsageError("--split takes three fractions: train,validation,test") from None
        options["split"] = {"train": train, "validation": validation, "test": test}
    return options


def cmd_export(args, ctx) -> int:
    client = ctx.client
    snapshot = client.snapshots.create(args.project, format=args.format, **_export_options(args))
    ctx.out.note(f"snapshot {snapshot.id} queued")
    snapshot = client.snapshots.wait(snapshot, timeout=args.timeout, progress=ctx.out.progress)
    path = client.snapshots.download(snapshot, args.out, progress=ctx.out.progress)
    ctx.out.result(
        {**snapshot.raw, "downloaded_to": str(path)},
        f"snapshot {snapshot.id} ({snapshot.format}) sha256 {snapshot.sha256}\n"
        f"{snapshot.rows_written} rows; by split: {json.dumps(snapshot.row_counts.get('splits'))}\n"
        f"saved to {path}",
    )
    return OK


def agreement_text(report: AgreementReport) -> str:
    ci = report.confidence_intervals or {}
    rows = []
    for key, value in report.headline().items():
        interval = ci.get(key)
        shown = f"[{fmt(interval[0])}, {fmt(interval[1])}]" if isinstance(interval, list) else ""
        reason = "" if value is not None else (report.reasons.get(key)
                                               or report.reasons.get(key.replace("_ranking", ".ranking"), ""))  # fmt: skip
        rows.append((key, fmt(value), shown, reason))
    out = [f"project {report.project}: " + ", ".join(f"{k} {v}" for k, v in report.counts.items()),
           "", table(rows, ["figure", "value", "95% CI", "why n/a"])]  # fmt: skip
    if report.annotators:
        people = [(a.annotator, a.judgements, a.skip_rate, a.pairwise_agreement,
                   a.consensus_agreement, a.gold_accuracy) for a in report.annotators]  # fmt: skip
        out += ["", table(people, ["annotator", "judgements", "skip rate", "pairwise",
                                   "vs consensus", "gold acc."])]  # fmt: skip
    if report.meta.get("stale"):
        out.append("\n(stale: judgements changed since this report was computed)")
    return "\n".join(out)


def cmd_agreement(args, ctx) -> int:
    report = ctx.client.projects.agreement(args.project)
    ctx.out.result(report.raw, agreement_text(report))
    return OK


# --- training ----------------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _config(args, named: dict[str, Any]) -> dict[str, Any]:
    """--config FILE, then each --set KEY=VALUE, then the named flags that were given."""
    config: dict[str, Any] = {}
    if args.config:
        try:
            config = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--config {args.config}: {exc}") from None
        if not isinstance(config, dict):
            raise UsageError(f"--config {args.config}: must hold a JSON object")
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE, got {item!r}")
        config[key.strip()] = _parse_value(value)
    config.update({k: v for k, v in named.items() if v is not None})
    return config


def _training_snapshot(args, ctx) -> Snapshot:
    client = ctx.client
    choice = args.snapshot
    if choice == "new":
        snapshot = client.snapshots.create(args.project, format="rankings", seed=0)
        ctx.out.note(f"snapshot {snapshot.id} (rankings) queued")
        return client.snapshots.wait(snapshot, timeout=args.timeout, progress=ctx.out.progress)
    if choice == "latest":
        for snapshot in client.snapshots.list(project=args.project, status="ready"):
            if snapshot.format in ("rankings", "pairwise"):
                return snapshot
        raise UsageError(f"project {args.project} has no ready rankings or pairwise snapshot")
    if not choice.isdigit():
        raise UsageError("--snapshot takes an id, 'latest' or 'new'")
    snapshot = client.snapshots.get(int(choice))
    if snapshot.project != args.project:
        raise UsageError(f"snapshot {snapshot.id} belongs to project {snapshot.project}, "
                         f"not {args.project}")  # fmt: skip
    return snapshot


def cmd_train_reward_model(args, ctx) -> int:
    config = _config(args, {
        "num_epochs": args.epochs, "max_steps": args.max_steps, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "max_length": args.max_length,
    })  # fmt: skip
    snapshot = _training_snapshot(args, ctx)
    run = ctx.client.runs.start_reward_model(snapshot, args.base_model, config, name=args.name)
    return _started(run, args, ctx)


def cmd_train_ppo(args, ctx) -> int:
    config = _config(args, {
        "total_steps": args.steps, "batch_size": args.batch_size, "kl_coef": args.kl_coef,
        "max_new_tokens": args.max_new_tokens, "learning_rate": args.learning_rate,
    })  # fmt: skip
    source: dict[str, Any] = {"prompt_project": args.project}
    if args.snapshot:
        source = {"snapshot": _training_snapshot(args, ctx)}
    run = ctx.client.runs.start_ppo(
        args.base_model, args.reward_model, config, name=args.name, **source
    )
    return _started(run, args, ctx)


def _started(run: TrainingRun, args, ctx) -> int:
    ctx.out.note(f"run {run.id} ({run.kind}) {run.status}")
    if args.watch:
        return _watch(run.id, args, ctx)
    ctx.out.result(
        run.raw, f"run {run.id} {run.status}: follow it with `rankwise runs watch {run.id}`"
    )
    return OK


def _watch(run_id: int, args, ctx, expect_cancel: bool = False) -> int:
    try:
        run = ctx.client.runs.watch(run_id, timeout=args.timeout, poll=args.poll,
                                    progress=ctx.out.progress)  # fmt: skip
    except JobFailed as exc:
        run = exc.obj
        if expect_cancel and run.status == "cancelled":
            ctx.out.result(run.raw, run_text(run))
            return OK
        ctx.out.result(run.raw, run_text(run))
        return JOB_FAILED
    ctx.out.result(run.raw, run_text(run))
    return OK


def run_text(run: TrainingRun) -> str:
    lines = [progress_text(run, {}),
             f"kind {run.kind}  name {run.name or '-'}  attempts {run.attempts}  "
             f"base model {run.base_model}"]  # fmt: skip
    if run.snapshot:
        lines.append(f"snapshot {run.snapshot}")
    if run.registered_reward_model:
        lines.append(f"registered reward model {run.registered_reward_model}")
    if run.registered_policy:
        lines.append(f"registered policy {run.registered_policy}")
    if run.last_checkpoint:
        lines.append(f"last checkpoint {run.last_checkpoint}")
    if run.error:
        lines.append(f"error: {run.error}")
    lines += result_lines(run)
    return "\n".join(lines)


def result_lines(run: TrainingRun) -> list[str]:
    """The headline of a finished run: held-out accuracy per split (reward model), the final
    evaluation (PPO)."""
    result = run.result or {}
    lines = []
    for split, m in (result.get("metrics") or {}).items():
        if isinstance(m, dict) and "accuracy" in m:
            ci = m.get("accuracy_ci95") or [None, None]
            lines.append(f"{split}: accuracy {fmt(m['accuracy'])} [{fmt(ci[0])}, {fmt(ci[1])}] "
                         f"over {m.get('n_pairs')} pairs, log loss {fmt(m.get('log_loss'))}")  # fmt: skip
    final = (result.get("eval") or {}).get("final")
    if isinstance(final, dict):
        shown = {k: v for k, v in final.items() if isinstance(v, int | float)}
        lines.append("final evaluation: " + ", ".join(f"{k} {fmt(v)}" for k, v in shown.items()))
    return lines


def cmd_runs_list(args, ctx) -> int:
    runs = []
    for run in ctx.client.runs.list(kind=args.kind, status=args.status, project=args.project):
        runs.append(run)
        if len(runs) >= args.limit:
            break
    rows = [(r.id, r.kind, r.name, r.status, f"{r.progress.step}/{r.progress.total_steps}",
             r.created_by, r.created_at.strftime("%Y-%m-%d %H:%M") if r.created_at else None)
            for r in runs]  # fmt: skip
    ctx.out.result([r.raw for r in runs],
                   table(rows, ["id", "kind", "name", "status", "step", "by", "created"]))  # fmt: skip
    return OK


def cmd_runs_show(args, ctx) -> int:
    run = ctx.client.runs.get(args.run)
    ctx.out.result(run.raw, run_text(run))
    return OK


def cmd_runs_watch(args, ctx) -> int:
    return _watch(args.run, args, ctx)


def cmd_runs_cancel(args, ctx) -> int:
    run = ctx.client.runs.cancel(args.run)
    if args.watch:
        return _watch(run.id, args, ctx, expect_cancel=True)
    ctx.out.result(run.raw, f"run {run.id} {run.status}"
                   + (" (cancel requested: it stops before its next step)"
                      if run.status == "running" else ""))  # fmt: skip
    return OK


def cmd_runs_resume(args, ctx) -> int:
    run = ctx.client.runs.resume(args.run)
    if args.watch:
        return _watch(run.id, args, ctx)
    ctx.out.result(run.raw, f"run {run.id} {run.status} (resumes from {run.last_checkpoint})")
    return OK


def cmd_score(args, ctx) -> int:
    scores = ctx.client.reward_models.score(args.reward_model, args.prompt, args.completions)
    rows = [(f"{s:+.4f}", c[:70]) for s, c in zip(scores, args.completions, strict=True)]
    ctx.out.result({"reward_model": args.reward_model, "scores": scores},
                   table(rows, ["score", "completion"]))  # fmt: skip
    return OK


def stored_config() -> dict:
    try:
        return config_read()
    except RankwiseError:
        return {}

"""``rankwise``: the command line. ``rankwise --help``; the reference with exit codes is
docs/client.md."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rankwise_client import __version__
from rankwise_client.cli import commands as c
from rankwise_client.cli import webhooks as hooks_cli
from rankwise_client.cli.output import (
    API_REFUSED,
    AUTH,
    ERROR,
    INTERRUPTED,
    JOB_FAILED,
    TIMEOUT,
    UNAVAILABLE,
    USAGE,
    Output,
)
from rankwise_client.client import Client
from rankwise_client.errors import (
    ApiError,
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    JobFailed,
    PermissionDenied,
    RankwiseError,
    ServerError,
    WaitTimeout,
)

EPILOG = """exit codes: 0 ok, 2 usage or configuration, 3 the API refused the request (4xx),
4 not authenticated or not allowed (401/403), 5 server error or unreachable, 6 the job
failed or was cancelled, 7 gave up waiting (--timeout), 1 anything unexpected."""


class Context:
    def __init__(self, args, out: Output):
        self.args = args
        self.out = out
        self.retries = args.retries
        self.stored = c.stored_config()
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.args.url, self.args.token, retries=self.args.retries)
        return self._client


def _common() -> argparse.ArgumentParser:
    """Options accepted before or after the command (``rankwise --json runs list`` and
    ``rankwise runs list --json``); SUPPRESS keeps a later default from undoing an earlier
    flag."""
    p = argparse.ArgumentParser(add_help=False)
    s = argparse.SUPPRESS
    p.add_argument("--json", action="store_true", default=s, help="JSON on stdout, for scripts")
    p.add_argument("--quiet", "-q", action="store_true", default=s, help="no progress lines")
    p.add_argument(
        "--url", default=s, help="server URL (default: RANKWISE_URL, then the login file)"
    )
    p.add_argument(
        "--token", default=s, help="API token (default: RANKWISE_TOKEN, then the login file)"
    )
    p.add_argument("--retries", type=int, default=s, help="retries of idempotent calls (default 4)")
    return p


def _waiting(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, help="stop waiting after this many seconds (exit 7)")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between status requests")


def _training_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="project slug")
    p.add_argument("--base-model", required=True, help="model directory on the worker's machine")
    p.add_argument("--name", default="", help="run name (also the registered model's)")
    p.add_argument("--config", help="JSON file with trainer options")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a trainer option (VALUE read as JSON when it parses); repeatable")  # fmt: skip
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--watch", action="store_true", help="follow the run to its end")
    _waiting(p)


def _train_parsers(sub, common) -> None:
    train = sub.add_parser("train", help="start a training run").add_subparsers(
        dest="kind", required=True, metavar="{reward-model,ppo}"
    )
    rm = train.add_parser("reward-model", parents=[common], help="train a reward model")
    _training_common(rm)
    rm.add_argument("--snapshot", default="new",
                    help="snapshot id, 'latest' (newest ready one) or 'new' (build a rankings "
                    "snapshot now; admins) [new]")  # fmt: skip
    rm.add_argument("--epochs", type=float, help="num_epochs")
    rm.add_argument("--max-steps", type=int)
    rm.add_argument("--max-length", type=int)
    rm.set_defaults(func=c.cmd_train_reward_model)
    ppo = train.add_parser("ppo", parents=[common], help="PPO against a registered reward model")
    _training_common(ppo)
    ppo.add_argument("--reward-model", type=int, required=True, help="registered reward model id")
    ppo.add_argument("--snapshot", help="prompts from this snapshot (id, 'latest', 'new') "
                     "instead of the project's prompts")  # fmt: skip
    ppo.add_argument("--steps", type=int, help="total_steps")
    ppo.add_argument("--kl-coef", type=float)
    ppo.add_argument("--max-new-tokens", type=int)
    ppo.set_defaults(func=c.cmd_train_ppo)


def _runs_parsers(sub, common) -> None:
    runs = sub.add_parser("runs", help="training runs").add_subparsers(
        dest="action", required=True, metavar="{list,show,watch,cancel,resume}"
    )
    ls = runs.add_parser("list", parents=[common], help="newest first")
    ls.add_argument("--kind", choices=["reward_model", "ppo"])
    ls.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    ls.add_argument("--project", help="project slug: runs on its snapshots or prompts")
    ls.add_argument("--limit", type=int, default=20)
    ls.set_defaults(func=c.cmd_runs_list)
    for name, func, text in (
        ("show", c.cmd_runs_show, "status, progress, result"),
        ("watch", c.cmd_runs_watch, "follow to the end (exit 6 if it fails)"),
        ("cancel", c.cmd_runs_cancel, "cancel (--watch: until it has stopped)"),
        ("resume", c.cmd_runs_resume, "resume a failed or cancelled run from its checkpoint"),
    ):
        p = runs.add_parser(name, parents=[common], help=text)
        p.add_argument("run", type=int, help="run id")
        if name in ("cancel", "resume"):
            p.add_argument("--watch", action="store_true")
        _waiting(p)
        p.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="rankwise", parents=[common], epilog=EPILOG,
        description="Command line for a Rankwise server (rankwise-client).",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"rankwise-client {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("login", parents=[common], help="check a token and store it (mode 600)",
                       description="Store the server and a token (asked for, or read from "
                       "stdin); with --username, the password is asked for (or read from stdin) "
                       "and exchanged for the user's token.")  # fmt: skip
    p.add_argument("--username", "-u", help="sign in with this user's password instead of a token")
    p.set_defaults(func=c.cmd_login)
    sub.add_parser("logout", parents=[common], help="remove the stored token").set_defaults(
        func=c.cmd_logout
    )
    sub.add_parser("whoami", parents=[common], help="the token's user").set_defaults(
        func=c.cmd_whoami
    )
    projects = sub.add_parser("projects", help="projects").add_subparsers(
        dest="action", required=True, metavar="{list}"
    )
    projects.add_parser("list", parents=[common], help="projects you are a member of").set_defaults(
        func=c.cmd_projects_list
    )

    p = sub.add_parser("import", parents=[common], help="import a .jsonl / .jsonl.gz file (admins)")
    p.add_argument("project", help="project slug")
    p.add_argument("file")
    p.add_argument("--format", default="rankwise", help="rankwise, pairwise, hh-rlhf, oasst...")
    p.add_argument("--annotator", help="for formats whose lines name no annotator")
    p.set_defaults(func=c.cmd_import)

    p = sub.add_parser("export", parents=[common], help="build a snapshot and download it (admins)")
    p.add_argument("project", help="project slug")
    p.add_argument("--format", required=True, choices=["pairwise", "rankings", "hf"])
    p.add_argument("--out", required=True, help="file (pairwise, rankings) or folder (hf)")
    p.add_argument("--mode", default="all", choices=["all", "consensus"])
    p.add_argument("--min-agreement", type=float)
    p.add_argument("--exclude-flag", action="append", metavar="KEY")
    p.add_argument("--only-reviewed", action="store_true")
    p.add_argument("--annotated-from", metavar="DATE")
    p.add_argument("--annotated-to", metavar="DATE")
    p.add_argument("--ties", default="drop", choices=["drop", "keep"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", metavar="TRAIN,VAL,TEST", help="e.g. 0.9,0.05,0.05")
    p.add_argument("--holdout-annotator", action="append", metavar="NAME")
    _waiting(p)
    p.set_defaults(func=c.cmd_export)

    _train_parsers(sub, common)
    _runs_parsers(sub, common)
    hooks_cli.add_parsers(sub, common)

    p = sub.add_parser("agreement", parents=[common], help="a project's agreement report")
    p.add_argument("project", help="project slug")
    p.set_defaults(func=c.cmd_agreement)

    p = sub.add_parser("score", parents=[common], help="score completions with a reward model")
    p.add_argument("reward_model", type=int, help="registered reward model id")
    p.add_argument("--prompt", required=True)
    p.add_argument("completions", nargs="+")
    p.set_defaults(func=c.cmd_score)
    return parser


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, AuthenticationFailed | PermissionDenied):
        return AUTH
    if isinstance(exc, ServerError | ConnectionFailed):
        return UNAVAILABLE
    if isinstance(exc, ApiError):
        return API_REFUSED
    if isinstance(exc, JobFailed):
        return JOB_FAILED
    if isinstance(exc, WaitTimeout):
        return TIMEOUT
    if isinstance(exc, ConfigurationError | c.UsageError):
        return USAGE
    return ERROR


def _hint(exc: BaseException) -> str:
    if isinstance(exc, AuthenticationFailed):
        return "check the token (rankwise login, or RANKWISE_TOKEN)"
    if isinstance(exc, PermissionDenied):
        return "your role does not allow this (snapshots and imports are for admins)"
    if isinstance(exc, WaitTimeout):
        return "the job goes on on the server"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    for name, default in (("json", False), ("quiet", False), ("url", None), ("token", None),
                          ("retries", 4)):  # fmt: skip
        if not hasattr(args, name):
            setattr(args, name, default)
    out = Output(as_json=args.json, quiet=args.quiet)
    try:
        return args.func(args, Context(args, out))
    except KeyboardInterrupt:
        out.error(RankwiseError("interrupted"), INTERRUPTED)
        return INTERRUPTED
    except (RankwiseError, OSError) as exc:
        code = USAGE if isinstance(exc, OSError) else exit_code(exc)
        out.error(exc, code, _hint(exc))
        return code

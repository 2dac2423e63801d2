"""The client and command-line calls that build a snapshot like a given one (shown on its
admin page): the same project, format and settings. Generated from the row; the tests parse
the command with the real ``rankwise`` argument parser."""

from __future__ import annotations

import pprint
import shlex

# What the export command line defaults to, so only settings that differ become flags.
CLI_DEFAULTS = {"mode": "all", "ties": "drop", "seed": 0, "only_reviewed": False}
DATA_FILES = {"pairwise": "pairs.jsonl", "rankings": "rankings.jsonl", "hf": "hf"}


def snapshot_cli_command(snapshot) -> str:
    s = snapshot.settings or {}
    out = f"{snapshot.project.slug}-{DATA_FILES.get(snapshot.format, snapshot.format)}"
    words = ["rankwise", "export", snapshot.project.slug, "--format", snapshot.format,
             "--out", out]  # fmt: skip
    if s.get("mode", "all") != "all":
        words += ["--mode", s["mode"]]
    if s.get("min_agreement") is not None:
        words += ["--min-agreement", str(s["min_agreement"])]
    for flag in s.get("exclude_flags") or []:
        words += ["--exclude-flag", flag]
    if s.get("only_reviewed"):
        words.append("--only-reviewed")
    if s.get("annotated_from"):
        words += ["--annotated-from", s["annotated_from"]]
    if s.get("annotated_to"):
        words += ["--annotated-to", s["annotated_to"]]
    if s.get("ties", "drop") != "drop":
        words += ["--ties", s["ties"]]
    if s.get("seed", 0) != 0:
        words += ["--seed", str(s["seed"])]
    split = s.get("split")
    if split:
        words += ["--split", ",".join(str(split.get(k, 0)) for k in ("train", "validation",
                                                                     "test"))]  # fmt: skip
    for name in s.get("holdout_annotators") or []:
        words += ["--holdout-annotator", name]
    return " ".join(shlex.quote(w) for w in words)


def snapshot_python_snippet(snapshot) -> str:
    options = {k: v for k, v in (snapshot.settings or {}).items() if v not in (None, [], "")}
    shown = pprint.pformat(options, sort_dicts=True).replace("\n", "\n    ")
    return "\n".join([
        "from rankwise_client import Client",
        "",
        "rw = Client()  # RANKWISE_URL, RANKWISE_TOKEN, or `rankwise login`",
        f"snap = rw.snapshots.create({snapshot.project.slug!r}, {snapshot.format!r}, **{shown})",
        "snap = rw.snapshots.wait(snap)",
        f"path = rw.snapshots.download(snap)  # or: rw.snapshots.to_pandas({snapshot.pk})",
    ])  # fmt: skip

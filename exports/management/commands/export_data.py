import shutil
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotate.models import Project
from core.context import audit_context
from exports.models import DatasetSnapshot
from exports.options import DEFAULT_SPLIT, OPTION_FIELDS, SPLITS, ExportOptionsError, OptionField
from exports.services import snapshot_build, snapshot_create


def _copy(source: Path, target: Path) -> None:
    """Hard-link when on the same volume (no second copy of a big file), else copy."""

    def link_or_copy(src, dst):
        try:
            Path(dst).hardlink_to(src)
        except OSError:
            shutil.copy2(src, dst)

    if source.is_dir():
        shutil.copytree(source, target, copy_function=link_or_copy)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(source, target)


def _option_argument(parser, option: OptionField) -> None:
    """The command-line flag of one export setting (exports.options.OPTION_FIELDS); lists are
    given as a repeated singular flag (--exclude-flag A --exclude-flag B)."""
    flag = "--" + option.name.replace("_", "-")
    if option.kind == "choice":
        parser.add_argument(flag, choices=option.choices, default=option.default)
    elif option.kind == "optional_choice":
        parser.add_argument(flag, choices=option.choices, help="default: judged where judged")
    elif option.kind == "fraction":
        parser.add_argument(flag, type=float)
    elif option.kind in ("flags", "usernames"):
        parser.add_argument(flag[:-1], action="append", default=[], dest=option.name)
    elif option.kind == "bool":
        parser.add_argument(flag, action="store_true")
    elif option.kind == "datetime":
        when = option.help[:1].lower() + option.help[1:].rstrip(".")
        parser.add_argument(flag, help=f"ISO date or date-time, {when}")
    elif option.kind == "seed":
        parser.add_argument(flag, type=int, default=option.default)
    elif option.kind == "split":
        default = ",".join(str(fraction) for fraction in DEFAULT_SPLIT.values())
        parser.add_argument(flag, default=default, help=f"{','.join(SPLITS)} fractions")
    else:
        raise ValueError(f"no command-line flag for {option.kind!r}")


class Command(BaseCommand):
    help = (
        "Export a project as a new immutable snapshot (under ARTIFACTS_DIR/snapshots), built "
        "here rather than by a worker, and optionally put a copy at --out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--format", required=True, choices=DatasetSnapshot.Format.values)
        for option in OPTION_FIELDS:
            _option_argument(parser, option)
        parser.add_argument("--out", help="also place the data here (a file, or a folder for hf)")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        out = Path(opts["out"]) if opts["out"] else None
        if out is not None and out.exists():
            raise CommandError(f"{out} exists; choose a new path (snapshots are never overwritten)")
        try:
            fractions = [float(x) for x in opts["split"].split(",")]
            split = dict(zip(SPLITS, fractions, strict=True))
        except ValueError as exc:
            raise CommandError("--split takes three numbers, e.g. 0.8,0.1,0.1") from exc
        options = {o.name: opts[o.name] for o in OPTION_FIELDS if opts[o.name] is not None}
        options["split"] = split
        started = time.perf_counter()
        try:
            with audit_context(source="command"):
                snapshot = snapshot_create(
                    project=project, fmt=opts["format"], options=options, enqueue=False
                )
        except ExportOptionsError as exc:
            raise CommandError(f"--{exc.field.replace('_', '-')}: {exc.message}") from exc
        snapshot = snapshot_build(snapshot=snapshot)
        if snapshot.status != DatasetSnapshot.Status.READY:
            raise CommandError(f"snapshot {snapshot.pk} failed: {snapshot.error}")
        if out is not None:
            _copy(snapshot.path, out)
        counts = snapshot.row_counts
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"snapshot {snapshot.pk}: {counts['rows']} rows from {counts['prompts']} prompts "
            f"(splits {counts['splits']}) in {elapsed:.1f} s\n"
            f"sha256 {snapshot.sha256}\n"
            f"data   {snapshot.path}" + (f"\ncopy   {out}" if out else "")
        )
